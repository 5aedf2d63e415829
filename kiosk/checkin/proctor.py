"""Proctor accounts, PIN authentication with lockout, and roles (the override policy they
act under is `kiosk.checkin.overrides`).

Why this shape: the brief's failure was people getting through the exam door without
being the booked applicant, often with a person's help. So every human exception is
tied to an authenticated proctor, requires a reason from a fixed list plus a written
note, and ends up as a signed ``override`` record. PINs are short, so they are stretched
with scrypt and guarded by a persisted lockout (a restart must not reset the counter)
that escalates (5 min, 30 min, 4 h) while the guessing goes on.

Each stored hash is keyed with a secret sealed with the device keys
(`kiosk.checkin.pin_hash`): the database file alone gives no way to check a guess.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.checkin.pin_hash import (
    PIN_KEY_BYTES,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    check_pin_policy,
    keyed,
    pin_key_for,
    pin_key_from_template_key,
    stretch,
)
from kiosk.config import KioskConfig
from kiosk.errors import KeyStoreError, PolicyViolation, ProctorAuthError, ProctorLockedOut
from kiosk.protocol.canonical import format_ts
from kiosk.storage import open_sqlite

if TYPE_CHECKING:
    from kiosk.ledger.keys import DeviceKeys

log = logging.getLogger(__name__)

MAX_FAILED_ATTEMPTS = 5
# Each further lockout (without a good PIN in between) lasts longer; the last one repeats.
LOCKOUTS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=4))
LOCKOUT = LOCKOUTS[0]
_SALT_BYTES = 16
PROCTOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ProctorRole(StrEnum):
    PROCTOR = "proctor"  # opens/closes sessions, unlocks the door, overrides refusals
    TECHNICIAN = "technician"  # calibration and device maintenance
    ADMIN = "admin"  # manages accounts; may do anything the others may


@dataclass(frozen=True)
class ProctorAccount:
    """An authenticated (or listed) proctor; never carries the PIN hash."""

    proctor_id: str
    name: str
    role: ProctorRole


def require_role(account: ProctorAccount, role: ProctorRole | Iterable[ProctorRole]) -> None:
    """Raise PolicyViolation unless the account has `role` (or one of several); admin
    passes every check."""
    allowed = {role} if isinstance(role, ProctorRole) else set(role)
    if account.role is ProctorRole.ADMIN or account.role in allowed:
        return
    names = " or ".join(sorted(r.value for r in allowed))
    raise PolicyViolation(
        f"{account.proctor_id} is a {account.role.value}; this action needs {names}"
    )


def proctor_directory_path(cfg: KioskConfig) -> Path:
    """Where the proctor accounts live: the one path `kiosk run` signs proctors in from
    and `kiosk proctor` manages, so an account added on the command line is the account
    the door knows."""
    return cfg.data_dir / "proctors.sqlite"


def open_proctor_directory(cfg: KioskConfig, keys: DeviceKeys) -> ProctorDirectory:
    """The configured kiosk's proctor directory, keyed with its device's PIN key."""
    return ProctorDirectory(proctor_directory_path(cfg), pin_key=pin_key_for(keys))


# The one answer to a failed sign-in, whether or not the proctor id exists, so the sign-in
# screen cannot be used to find out which ids are real (the work done is equal too: an
# unknown id still costs one scrypt, and attempts are counted only for real ids).
NOT_ACCEPTED = "proctor id or PIN not accepted"


_SCHEMA = """CREATE TABLE IF NOT EXISTS proctors (
    proctor_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    pin_hash BLOB NOT NULL,
    scrypt_n INTEGER NOT NULL,
    scrypt_r INTEGER NOT NULL,
    scrypt_p INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    keyed INTEGER NOT NULL DEFAULT 1,
    lockouts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)"""
# Rows written before PINs were keyed: their hash is scrypt alone (see `_key_legacy_rows`).
_UPGRADES = (
    "ALTER TABLE proctors ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE proctors ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0",
)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class ProctorDirectory:
    """Proctor accounts in SQLite. Failed-attempt counters and lockouts are stored, so
    they survive restarts and are shared by every process on the kiosk."""

    def __init__(self, path: Path, *, pin_key: bytes) -> None:
        if len(pin_key) != PIN_KEY_BYTES:
            raise KeyStoreError("the proctor PIN key must be 32 bytes")
        self.path = Path(path)
        self._pin_key = pin_key
        self._conn = open_sqlite(self.path)
        with self._txn():
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(proctors)")}
            if columns and "keyed" not in columns:
                for statement in _UPGRADES:
                    self._conn.execute(statement)
            for statement in _SCHEMA.split(";"):
                self._conn.execute(statement)
            self._check_pin_key()
            self._key_legacy_rows()
        self._dummy_salt = os.urandom(_SALT_BYTES)
        # failures against ids that do not exist: (failed, locked_until_ms, lockouts)
        self._unknown_ids: dict[str, tuple[int, int | None, int]] = {}

    def _check_pin_key(self) -> None:
        """A directory keyed by another device's key would turn every right PIN into a
        wrong one (and lock people out): refuse it by name instead."""
        check = hmac.new(self._pin_key, b"pin key check", hashlib.sha256).digest()
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'pin_key_check'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta(key, value) VALUES ('pin_key_check', ?)", (check,))
        elif not hmac.compare_digest(bytes(row[0]), check):
            raise KeyStoreError(
                f"{self.path} was keyed by another device's keys: its PINs cannot be checked here"
            )

    def _key_legacy_rows(self) -> None:
        """Key the scrypt hashes of rows written before PINs were keyed, at once: the
        HMAC wraps the stored hash, so no PIN is needed to upgrade."""
        rows = self._conn.execute("SELECT proctor_id, pin_hash FROM proctors WHERE keyed = 0")
        for proctor_id, stretched in rows.fetchall():
            self._conn.execute(
                "UPDATE proctors SET pin_hash = ?, keyed = 1 WHERE proctor_id = ?",
                (keyed(self._pin_key, bytes(stretched)), proctor_id),
            )
            log.warning("proctor %s: PIN hash now keyed with the device's PIN key", proctor_id)

    def _hash_pin(self, pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        return keyed(self._pin_key, stretch(pin, salt, n, r, p))

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def add(self, proctor_id: str, name: str, role: ProctorRole | str, pin: str) -> ProctorAccount:
        """Create an account; PolicyViolation for a bad id, role or PIN, or a duplicate."""
        if not isinstance(proctor_id, str) or not PROCTOR_ID_RE.match(proctor_id):
            raise PolicyViolation(f"bad proctor id {proctor_id!r}")
        if not name.strip():
            raise PolicyViolation("proctor name is required")
        try:
            role = ProctorRole(role)
        except ValueError:
            raise PolicyViolation(f"unknown role {role!r}") from None
        check_pin_policy(pin)
        salt = os.urandom(_SALT_BYTES)
        digest = self._hash_pin(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        try:
            with self._txn():
                self._conn.execute(
                    "INSERT INTO proctors(proctor_id, name, role, salt, pin_hash, scrypt_n, "
                    "scrypt_r, scrypt_p, keyed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                    (proctor_id, name.strip(), role.value, salt, digest, *_params()),
                )
        except sqlite3.IntegrityError:
            raise PolicyViolation(f"proctor {proctor_id!r} already exists") from None
        log.info("proctor account %s (%s) added", proctor_id, role.value)
        return ProctorAccount(proctor_id, name.strip(), role)

    def set_pin(self, proctor_id: str, pin: str) -> None:
        """Replace a PIN (clears failures and any lockout)."""
        check_pin_policy(pin)
        salt = os.urandom(_SALT_BYTES)
        digest = self._hash_pin(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        with self._txn():
            n = self._conn.execute(
                "UPDATE proctors SET salt = ?, pin_hash = ?, scrypt_n = ?, scrypt_r = ?, "
                "scrypt_p = ?, failed_attempts = 0, locked_until_ms = NULL, lockouts = 0, "
                "keyed = 1 WHERE proctor_id = ?",
                (salt, digest, *_params(), proctor_id),
            ).rowcount
        if not n:
            raise ProctorAuthError(f"unknown proctor {proctor_id!r}")

    def get(self, proctor_id: str) -> ProctorAccount:
        row = self._conn.execute(
            "SELECT proctor_id, name, role FROM proctors WHERE proctor_id = ?", (proctor_id,)
        ).fetchone()
        if row is None:
            raise ProctorAuthError(f"unknown proctor {proctor_id!r}")
        return ProctorAccount(row[0], row[1], ProctorRole(row[2]))

    def list(self) -> list[ProctorAccount]:
        rows = self._conn.execute(
            "SELECT proctor_id, name, role FROM proctors ORDER BY proctor_id"
        ).fetchall()
        return [ProctorAccount(i, n, ProctorRole(r)) for i, n, r in rows]

    def locked_until(self, now: datetime | None = None) -> dict[str, datetime]:
        """Accounts locked out at `now`, with when each lockout ends (for `kiosk proctor
        list`, so an admin sees whom to unlock)."""
        at = _ms(_now(now))
        rows = self._conn.execute(
            "SELECT proctor_id, locked_until_ms FROM proctors WHERE locked_until_ms > ?", (at,)
        ).fetchall()
        return {pid: datetime.fromtimestamp(ms / 1000, UTC) for pid, ms in rows}

    def unlock(self, proctor_id: str) -> None:
        """Clear a lockout early (an admin action; the caller checks the role)."""
        with self._txn():
            self._conn.execute(
                "UPDATE proctors SET failed_attempts = 0, locked_until_ms = NULL, lockouts = 0 "
                "WHERE proctor_id = ?",
                (proctor_id,),
            )

    def authenticate(
        self, proctor_id: str, pin: str, now: datetime | None = None
    ) -> ProctorAccount:
        """Check a PIN. Raises ProctorAuthError (`NOT_ACCEPTED`, whether the id is unknown or
        the PIN wrong) or ProctorLockedOut (5 consecutive failures lock the account: 5
        minutes, then 30, then 4 hours for each further lockout until a right PIN or an
        admin unlock).

        The check runs inside a write transaction, so parallel guesses from several
        processes are counted one by one rather than racing the counter.
        """
        at = _now(now)
        with self._txn():
            row = self._conn.execute(
                "SELECT name, role, salt, pin_hash, scrypt_n, scrypt_r, scrypt_p, "
                "failed_attempts, locked_until_ms, lockouts FROM proctors WHERE proctor_id = ?",
                (proctor_id,),
            ).fetchone()
            if row is None:
                # Same cost as a real check, so timing does not reveal which ids exist; and
                # the same lockouts (counted in memory), so a lockout does not reveal it either.
                self._hash_pin(str(pin), self._dummy_salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
                raise self._unknown_id_failure(proctor_id, at)
            name, role, salt, stored, n, r, p, failed, locked_until_ms, lockouts = row
            if locked_until_ms is not None and _ms(at) < locked_until_ms:
                raise _still_locked(locked_until_ms, at)
            candidate = self._hash_pin(str(pin), salt, n, r, p)
            if hmac.compare_digest(candidate, stored):
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = 0, locked_until_ms = NULL, "
                    "lockouts = 0 WHERE proctor_id = ?",
                    (proctor_id,),
                )
                return ProctorAccount(proctor_id, name, ProctorRole(role))
            failed += 1
            if failed >= MAX_FAILED_ATTEMPTS:
                lockout = LOCKOUTS[min(lockouts, len(LOCKOUTS) - 1)]
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = 0, locked_until_ms = ?, "
                    "lockouts = ? WHERE proctor_id = ?",
                    (_ms(at + lockout), lockouts + 1, proctor_id),
                )
                error: ProctorAuthError = _now_locked(lockout)
                log.warning("proctor %s locked out after repeated wrong PINs", proctor_id)
            else:
                self._conn.execute(
                    "UPDATE proctors SET failed_attempts = ?, locked_until_ms = NULL "
                    "WHERE proctor_id = ?",
                    (failed, proctor_id),
                )
                # Same words as for an unknown id: "4 attempts left" would say the id exists.
                error = ProctorAuthError(NOT_ACCEPTED)
        # Raised after COMMIT so the failure count is persisted.
        raise error

    def _unknown_id_failure(self, proctor_id: str, at: datetime) -> ProctorAuthError:
        """Count a failure against an id that does not exist exactly as for one that does."""
        failed, locked_until_ms, lockouts = self._unknown_ids.pop(proctor_id, (0, None, 0))
        if locked_until_ms is not None and _ms(at) < locked_until_ms:
            error: ProctorAuthError = _still_locked(locked_until_ms, at)
        elif failed + 1 >= MAX_FAILED_ATTEMPTS:
            lockout = LOCKOUTS[min(lockouts, len(LOCKOUTS) - 1)]
            failed, locked_until_ms, lockouts = 0, _ms(at + lockout), lockouts + 1
            error = _now_locked(lockout)
        else:
            failed, locked_until_ms = failed + 1, None
            error = ProctorAuthError(NOT_ACCEPTED)
        self._unknown_ids[proctor_id] = (failed, locked_until_ms, lockouts)
        while len(self._unknown_ids) > _UNKNOWN_IDS_KEPT:  # bounded: oldest first out
            del self._unknown_ids[next(iter(self._unknown_ids))]
        return error


_UNKNOWN_IDS_KEPT = 1024


def _still_locked(locked_until_ms: int, at: datetime) -> ProctorLockedOut:
    until = datetime.fromtimestamp(locked_until_ms / 1000, UTC)
    left = max(1, int((until - at).total_seconds() + 0.999))
    # No proctor id in the text: it is shown at the door, and must not confirm an id.
    return ProctorLockedOut(f"sign-in locked until {format_ts(until)} ({left} s left)")


def _now_locked(lockout: timedelta) -> ProctorLockedOut:
    return ProctorLockedOut(
        f"{MAX_FAILED_ATTEMPTS} failures in a row: sign-in locked for "
        f"{int(lockout.total_seconds() // 60)} minutes"
    )


def _params() -> tuple[int, int, int]:
    return SCRYPT_N, SCRYPT_R, SCRYPT_P


__all__ = [
    "LOCKOUT",
    "LOCKOUTS",
    "MAX_FAILED_ATTEMPTS",
    "PROCTOR_ID_RE",
    "ProctorAccount",
    "ProctorDirectory",
    "ProctorRole",
    "check_pin_policy",
    "open_proctor_directory",
    "pin_key_for",
    "pin_key_from_template_key",
    "proctor_directory_path",
    "require_role",
]
