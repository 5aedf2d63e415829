"""Face templates at rest: AES-256-GCM in SQLite, purged when their retention ends.

Why: templates are biometric personal data that must be protected even from someone
who copies the disk. Each row is encrypted under the device's template key with a fresh
96-bit nonce; the associated data binds the row to its session, applicant, pack and
array shape, so moving ciphertext to another row (to make one applicant match as
another) fails to decrypt instead of silently succeeding. ``secure_delete`` makes
SQLite overwrite purged rows rather than leave them in free pages.

Booking photos (the JPEG the proctor compares before an override) are personal data of
the same kind, so they live here too, under the same key and purged by the same rule:
one ``purge`` deletes a session's templates and photos together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.errors import TemplateVaultError
from kiosk.protocol.canonical import canonical_json
from kiosk.storage import open_sqlite

log = logging.getLogger(__name__)

VAULT_FILENAME = "templates.sqlite"
_NONCE = 12
_KEY_CHECK = b"kiosk template vault v1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    """CREATE TABLE IF NOT EXISTS templates (
        session_id TEXT NOT NULL,
        applicant_id TEXT NOT NULL,
        pack_id TEXT NOT NULL,
        shape TEXT NOT NULL,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        PRIMARY KEY (session_id, applicant_id, pack_id)
    )""",
    "CREATE INDEX IF NOT EXISTS templates_expiry ON templates(expires_at_ms)",
    """CREATE TABLE IF NOT EXISTS photos (
        session_id TEXT NOT NULL,
        applicant_id TEXT NOT NULL,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        PRIMARY KEY (session_id, applicant_id)
    )""",
    "CREATE INDEX IF NOT EXISTS photos_expiry ON photos(expires_at_ms)",
)


def default_vault_path(data_dir: Path) -> Path:
    return Path(data_dir) / VAULT_FILENAME


def _ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("expiry times must be timezone-aware")
    return int(dt.timestamp() * 1000)


def _aad(session_id: str, applicant_id: str, pack_id: str, shape: tuple[int, ...]) -> bytes:
    return canonical_json(
        {
            "v": 1,
            "session": session_id,
            "applicant": applicant_id,
            "pack": pack_id,
            "shape": list(shape),
        }
    )


def _photo_aad(session_id: str, applicant_id: str) -> bytes:
    return canonical_json(
        {"v": 1, "kind": "photo", "session": session_id, "applicant": applicant_id}
    )


class TemplateVault:
    """Encrypted float32 templates keyed by (session_id, applicant_id, pack_id).

    ``get`` returns the array with the shape it was ``put`` with: one template ``(d,)``
    or several from different photos ``(n, d)``.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        if len(key) != 32:
            raise TemplateVaultError("template key must be 32 bytes (AES-256)")
        self.path = Path(path)
        self._aes = AESGCM(key)
        self._lock = threading.RLock()
        self._conn = open_sqlite(self.path, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA secure_delete=ON")
            with self._txn():
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                self._check_key()
        except BaseException:
            self._conn.close()
            raise
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)  # a vault created before open_sqlite made it so

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TemplateVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[None]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise TemplateVaultError(f"template vault {self.path}: {exc}") from None

    def _check_key(self) -> None:
        """Fail at open, with a clear message, if the vault was written under another key."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        if row is None:
            nonce = os.urandom(_NONCE)
            blob = nonce + self._aes.encrypt(nonce, _KEY_CHECK, b"key_check")
            self._conn.execute("INSERT INTO meta(key, value) VALUES ('key_check', ?)", (blob,))
            return
        blob = bytes(row[0])
        try:
            ok = self._aes.decrypt(blob[:_NONCE], blob[_NONCE:], b"key_check") == _KEY_CHECK
        except InvalidTag:
            ok = False
        if not ok:
            raise TemplateVaultError(
                f"template vault {self.path} was encrypted with a different template key"
            )

    def put(
        self,
        session_id: str,
        applicant_id: str,
        pack_id: str,
        vectors: np.ndarray,
        *,
        expires_at: datetime,
    ) -> None:
        """Encrypt and store (replacing) the templates for one applicant in one session."""
        arr = np.ascontiguousarray(vectors, dtype="<f4")
        if arr.ndim not in (1, 2) or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise TemplateVaultError("templates must be a non-empty finite 1-D or 2-D array")
        nonce = os.urandom(_NONCE)
        aad = _aad(session_id, applicant_id, pack_id, arr.shape)
        ciphertext = self._aes.encrypt(nonce, arr.tobytes(), aad)
        shape = ",".join(str(n) for n in arr.shape)
        with self._txn():
            self._conn.execute(
                "INSERT OR REPLACE INTO templates(session_id, applicant_id, pack_id, shape, "
                "nonce, ciphertext, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, applicant_id, pack_id, shape, nonce, ciphertext, _ms(expires_at)),
            )

    def get(self, session_id: str, applicant_id: str, pack_id: str) -> np.ndarray:
        """Decrypt one applicant's templates; TemplateVaultError if absent or tampered."""
        with self._lock:
            row = self._conn.execute(
                "SELECT shape, nonce, ciphertext FROM templates "
                "WHERE session_id = ? AND applicant_id = ? AND pack_id = ?",
                (session_id, applicant_id, pack_id),
            ).fetchone()
        if row is None:
            raise TemplateVaultError(
                f"no template for applicant {applicant_id} in session {session_id} "
                f"(pack {pack_id}); it may have been purged"
            )
        shape = tuple(int(n) for n in row[0].split(","))
        try:
            plain = self._aes.decrypt(
                bytes(row[1]), bytes(row[2]), _aad(session_id, applicant_id, pack_id, shape)
            )
        except InvalidTag:
            raise TemplateVaultError(
                f"template for applicant {applicant_id} in session {session_id} fails to "
                "decrypt: edited, moved from another row, or wrong key"
            ) from None
        return np.frombuffer(plain, dtype="<f4").reshape(shape).astype(np.float32)

    def put_photo(
        self, session_id: str, applicant_id: str, jpeg: bytes, *, expires_at: datetime
    ) -> None:
        """Encrypt and store (replacing) one applicant's booking photo for a session."""
        if not jpeg:
            raise TemplateVaultError("a booking photo must not be empty")
        nonce = os.urandom(_NONCE)
        ciphertext = self._aes.encrypt(nonce, bytes(jpeg), _photo_aad(session_id, applicant_id))
        with self._txn():
            self._conn.execute(
                "INSERT OR REPLACE INTO photos(session_id, applicant_id, nonce, ciphertext, "
                "expires_at_ms) VALUES (?, ?, ?, ?, ?)",
                (session_id, applicant_id, nonce, ciphertext, _ms(expires_at)),
            )

    def drop_photo(self, session_id: str, applicant_id: str) -> None:
        """Forget one applicant's photo (a newer roster for the session has none)."""
        with self._txn():
            n = self._conn.execute(
                "DELETE FROM photos WHERE session_id = ? AND applicant_id = ?",
                (session_id, applicant_id),
            ).rowcount
        if n:
            self._scrub_wal()

    def get_photo(self, session_id: str, applicant_id: str) -> bytes | None:
        """The decrypted booking photo, or None if there is none (never sent, or purged)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT nonce, ciphertext FROM photos WHERE session_id = ? AND applicant_id = ?",
                (session_id, applicant_id),
            ).fetchone()
        if row is None:
            return None
        try:
            return self._aes.decrypt(
                bytes(row[0]), bytes(row[1]), _photo_aad(session_id, applicant_id)
            )
        except InvalidTag:
            raise TemplateVaultError(
                f"booking photo of applicant {applicant_id} in session {session_id} fails to "
                "decrypt: edited, moved from another row, or wrong key"
            ) from None

    def keys(self, session_id: str) -> list[tuple[str, str]]:
        """(applicant_id, pack_id) pairs stored for a session."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT applicant_id, pack_id FROM templates WHERE session_id = ? "
                "ORDER BY applicant_id, pack_id",
                (session_id,),
            ).fetchall()
        return [(a, p) for a, p in rows]

    def purge(self, now: datetime) -> int:
        """Delete every template and booking photo whose retention has ended
        (expires_at <= now); the number of template rows deleted."""
        with self._txn():
            n = self._conn.execute(
                "DELETE FROM templates WHERE expires_at_ms <= ?", (_ms(now),)
            ).rowcount
            photos = self._conn.execute(
                "DELETE FROM photos WHERE expires_at_ms <= ?", (_ms(now),)
            ).rowcount
        if n or photos:
            self._scrub_wal()
            log.info("purged %d expired template rows and %d photos from %s", n, photos, self.path)
        return n

    def _scrub_wal(self) -> None:
        """secure_delete zeroes freed pages in the database file, but in WAL mode the
        pre-delete pages can linger in the -wal file: checkpoint and truncate it."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def purge_session(self, session_id: str) -> int:
        """Delete all templates and photos of one session (e.g. a withdrawn roster)."""
        with self._txn():
            n = self._conn.execute(
                "DELETE FROM templates WHERE session_id = ?", (session_id,)
            ).rowcount
            photos = self._conn.execute(
                "DELETE FROM photos WHERE session_id = ?", (session_id,)
            ).rowcount
        if n or photos:
            self._scrub_wal()
        return int(n)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM templates").fetchone()[0])

    def photo_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])


__all__ = ["VAULT_FILENAME", "TemplateVault", "default_vault_path"]
