"""The ledger on the kiosk: a signed, hash-chained, crash-safe SQLite outbox.

(Over 400 lines on purpose: one class, the ledger's single writer, whose append, witness
and outbox states share one transaction discipline; parsing and audit live in `audit.py`.)

Why SQLite in WAL mode with ``synchronous=FULL``: once `append` returns, the record has
been fsync'd to the WAL and survives power loss or SIGKILL; the whole append (read the
tail, build, sign, insert) is one ``BEGIN IMMEDIATE`` transaction, so several processes
(UI worker, CLI, sync client) can append to the same file and ``seq`` stays gap-free.
Each record carries an outbox state (pending → sent → acked) for the sync client.

The stored blob is the envelope's canonical bytes: `verify` re-parses and re-hashes
exactly what is on disk, so an edited byte anywhere is caught.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from kiosk.errors import KeyStoreError, KioskError, LedgerError, LedgerTampered, StorageFull
from kiosk.ledger.audit import iter_stored, parse_row, verify_envelopes
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.witness import HeadWitness, LedgerHead, SignedHead, compare_head
from kiosk.protocol.chain import key_rotation_body
from kiosk.protocol.envelope import Envelope, new_record, sign_record
from kiosk.storage import open_sqlite

log = logging.getLogger(__name__)

STATES = ("pending", "sent", "acked")
SCHEMA_VERSION = "1"
BUSY_TIMEOUT_MS = 10_000
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    ts TEXT NOT NULL,
    envelope BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'acked'))
);
CREATE INDEX IF NOT EXISTS records_state_seq ON records(state, seq);
"""


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


class LedgerStore:
    """Append-only signed ledger with an outbox, in one SQLite file.

    Example::

        keys = DeviceKeys.load_or_create(cfg.data_dir)
        with LedgerStore(cfg.ledger_path, keys) as store:
            env = store.append("session_open", {"session_id": "S-1"})
            assert store.verify() == env.record.seq

    `max_size_bytes` caps the database (SQLite ``max_page_count``) so a runaway ledger
    cannot fill the disk the OS needs; hitting the cap behaves like a full disk.
    """

    def __init__(
        self,
        path: Path,
        keys: DeviceKeys,
        *,
        max_size_bytes: int | None = None,
        witness: HeadWitness | None = None,
    ) -> None:
        self.path = Path(path)
        self._keys = keys
        self._lock = threading.RLock()
        try:
            # WAL + synchronous=FULL: a committed append survives power loss or SIGKILL.
            self._conn = open_sqlite(
                self.path, busy_timeout_ms=BUSY_TIMEOUT_MS, check_same_thread=False
            )
        except (sqlite3.DatabaseError, OSError) as exc:  # not a database, or no access
            raise LedgerError(f"{self.path}: cannot open ledger ({exc})") from None
        try:
            if max_size_bytes is not None:
                page = self._conn.execute("PRAGMA page_size").fetchone()[0]
                self._conn.execute(f"PRAGMA max_page_count={max(1, max_size_bytes // page)}")
            with self._write_txn():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._init_meta()
                self._reconcile_keys()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise LedgerError(f"{self.path}: cannot open ledger ({exc})") from None
        except KioskError:
            self._conn.close()
            raise
        self._witness = witness or HeadWitness.for_directory(
            keys.directory, keys.device_id, lambda: [e.public_key for e in self._keys.history]
        )
        # Checked once at open: a rolled-back ledger takes no new record (it would reuse
        # a seq the witness and the centre already saw) until the loss is accepted.
        self._listeners: list[Callable[[Envelope], None]] = []
        self.head_problem: LedgerTampered | None = None
        try:
            self.check_head()
        except LedgerTampered as exc:
            self.head_problem = exc
            log.error("%s", exc)

    # -- context management ----------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def device_id(self) -> str:
        return self._keys.device_id

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _write_txn(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE … COMMIT; on any failure roll back so nothing is half-written."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if _is_full(exc):
                    raise StorageFull(
                        f"ledger {self.path}: storage full; the record was not written"
                    ) from None
                if _is_busy(exc):
                    raise LedgerError(f"ledger {self.path} is busy ({exc}); try again") from None
                raise LedgerError(f"ledger {self.path}: {exc}") from None

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _init_meta(self) -> None:
        device = self._meta("device_id")
        if device is None:
            self._set_meta("schema_version", SCHEMA_VERSION)
            self._set_meta("device_id", self._keys.device_id)
            self._set_meta("genesis_public_key", self._keys.public_key_b64())
            self._set_meta("active_public_key", self._keys.public_key_b64())
            self._set_meta("active_from_seq", "1")
            log.info("created ledger %s for %s", self.path, self._keys.device_id)
        elif device != self._keys.device_id:
            raise KeyStoreError(
                f"ledger {self.path} belongs to device {device}, not {self._keys.device_id}"
            )

    def _reconcile_keys(self) -> None:
        """Inside the write lock: make the in-memory key the ledger's active key.

        Handles another process having rotated since we loaded, and a rotation that
        crashed before or after its ledger record was committed.
        """
        active = self._meta("active_public_key")
        if active == self._keys.public_key_b64():
            if self._keys.staged_key() is not None:
                # Staged but never recorded (rotation crashed before its commit): drop it.
                log.warning("discarding a key staged by an unfinished rotation")
                self._keys.discard_staged()
            return
        self._keys.reload()
        staged = self._keys.staged_key()
        if active != self._keys.public_key_b64() and staged is not None:
            self._keys.commit_rotation(int(self._meta("active_from_seq") or 1), str(active))
        if active != self._keys.public_key_b64():
            raise KeyStoreError(
                f"device key {self._keys.key_id()} is not the ledger's active signing key"
            )

    # -- writing ---------------------------------------------------------------------------

    def _tail(self) -> tuple[int, str | None]:
        row = self._conn.execute(
            "SELECT seq, envelope FROM records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, None
        # The digest of the canonical envelope, as `verify` and the centre compute it (not
        # of the stored bytes: a re-serialised row would otherwise break every later append).
        return row[0], _parse_row(*row).digest()

    def _insert(self, env: Envelope) -> None:
        r = env.record
        self._conn.execute(
            "INSERT INTO records(seq, id, type, ts, envelope) VALUES (?, ?, ?, ?, ?)",
            (r.seq, r.id, r.type, r.ts, env.canonical()),
        )

    def append(self, type: str, body: dict[str, Any]) -> Envelope:
        """Sign and durably store one record; return its envelope once it is on disk.

        Raises StorageFull (nothing written) when the disk or the size cap is reached.
        """
        if self.head_problem is not None:
            raise self.head_problem
        env = self._append_unchecked(type, body)
        self._advance_witness(env)
        self._announce(env)
        return env

    def add_listener(self, callback: Callable[[Envelope], None]) -> Callable[[], None]:
        """Call `callback(envelope)` after each record this store writes is durable (the
        sync client pushes an override at once instead of at its next interval); returns
        a function that removes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _announce(self, env: Envelope) -> None:
        for callback in list(self._listeners):
            try:
                callback(env)
            except Exception:  # a listener must never undo or hide a durable record
                log.exception("ledger listener failed")

    def _append_unchecked(self, type: str, body: dict[str, Any]) -> Envelope:
        with self._write_txn():
            if self._meta("active_public_key") != self._keys.public_key_b64():
                self._reconcile_keys()
            last_seq, prev = self._tail()
            record = new_record(
                type, body, device=self._keys.device_id, seq=last_seq + 1, prev=prev
            )
            env = sign_record(record, self._keys.private_key)
            self._insert(env)
        return env

    def _advance_witness(self, env: Envelope) -> None:
        head = LedgerHead(self._keys.device_id, env.record.seq, env.digest())
        self._witness.advance(head, self._keys.private_key)

    # -- the head and its witness ------------------------------------------------------------

    def head(self) -> LedgerHead:
        """This ledger's last (seq, envelope digest); seq 0 and no hash when empty."""
        last = self.last()
        if last is None:
            return LedgerHead(self._keys.device_id, 0, None)
        return LedgerHead(self._keys.device_id, last.record.seq, last.digest())

    def signed_head(self) -> SignedHead:
        """The head signed with the current device key: what sync reports to the centre."""
        return SignedHead.sign(self.head(), self._keys.private_key)

    def _digest_at(self, seq: int) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT seq, envelope FROM records WHERE seq = ?", (seq,)
            ).fetchone()
        return None if row is None else _parse_row(*row).digest()

    def check_head(self) -> None:
        """Raise LedgerRolledBack unless the ledger still holds the witnessed head."""
        compare_head(self._witness.read(), self.head().seq, self._digest_at)

    def accept_rollback(self, reason: str) -> Envelope:
        """Record that this ledger lost records (a signed ``device_event`` naming the
        witnessed head and where the ledger now ends), then move the witness to it.

        The loss stays visible: the centre, the second witness, raises its own incident
        when the next seq it sees is one it already has.
        """
        problem = self.head_problem
        if problem is None:
            raise LedgerError("the ledger matches its witness; there is no rollback to accept")
        witnessed = self._witness.read_quietly()
        body = {
            "event": "ledger_rolled_back",
            "detail": str(problem),
            "witness_seq": witnessed.seq if witnessed else 0,
            "witness_hash": witnessed.hash if witnessed else None,
            "ledger_seq": self.head().seq,
            "reason": reason,
        }
        env = self._append_unchecked("device_event", body)
        self._witness.reset(
            LedgerHead(self._keys.device_id, env.record.seq, env.digest()), self._keys.private_key
        )
        self.head_problem = None
        log.warning("ledger rollback accepted and recorded as seq %d", env.record.seq)
        return env

    def rotate_key(self) -> Envelope:
        """Hand signing over to a fresh device key, keeping every old record verifiable.

        Writes a ``device_event`` (event ``key_rotated``) signed by the OLD key that names
        the new public key and the seq it signs from; `verify_chain` follows it.
        """
        if self.head_problem is not None:
            raise self.head_problem
        with self._write_txn():
            self._reconcile_keys()
            last_seq, prev = self._tail()
            new_key = self._keys.stage_rotation()
            body = key_rotation_body(self._keys.public_key, new_key.public_key(), last_seq + 2)
            record = new_record(
                "device_event", body, device=self._keys.device_id, seq=last_seq + 1, prev=prev
            )
            env = sign_record(record, self._keys.private_key)
            self._insert(env)
            self._set_meta("active_public_key", body["new_public_key"])
            self._set_meta("active_from_seq", str(last_seq + 2))
        self._keys.commit_rotation(last_seq + 2, body["new_public_key"])
        self._advance_witness(env)
        return env

    # -- outbox ----------------------------------------------------------------------------

    def pending(self, limit: int) -> list[Envelope]:
        """Up to `limit` records not yet handed to the sync client, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, envelope FROM records WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [_parse_row(seq, blob) for seq, blob in rows]

    def _set_state(self, ids: Iterable[str], state: str, from_states: tuple[str, ...]) -> int:
        ids = list(ids)
        changed = 0
        marks = ",".join("?" * len(from_states))
        with self._write_txn():
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                cur = self._conn.execute(
                    f"UPDATE records SET state = ? WHERE state IN ({marks}) "
                    f"AND id IN ({','.join('?' * len(chunk))})",
                    (state, *from_states, *chunk),
                )
                changed += cur.rowcount
        return changed

    def mark_sent(self, ids: Iterable[str]) -> int:
        """pending → sent; returns how many changed (unknown or already-acked ids are ignored)."""
        return self._set_state(ids, "sent", ("pending",))

    def mark_acked(self, ids: Iterable[str]) -> int:
        """pending/sent → acked (the centre has stored them); returns how many changed."""
        return self._set_state(ids, "acked", ("pending", "sent"))

    def requeue_sent(self) -> int:
        """sent → pending, for a sync client resuming after a crash mid-push."""
        with self._write_txn():
            return self._conn.execute(
                "UPDATE records SET state = 'pending' WHERE state = 'sent'"
            ).rowcount

    def counts(self) -> dict[str, int]:
        """Number of records per outbox state; every state is present."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) FROM records GROUP BY state"
            ).fetchall()
        out = dict.fromkeys(STATES, 0)
        out.update({state: n for state, n in rows})
        return out

    # -- reading ---------------------------------------------------------------------------

    def iter_envelopes(self) -> Iterator[Envelope]:
        """Every record in seq order, parsed strictly; an unreadable row is LedgerTampered."""
        return iter_stored(self._conn, self._lock)

    def iter_type(self, rtype: str) -> Iterator[Envelope]:
        """Every record of one type, in seq order (e.g. the signed calibration records)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, envelope FROM records WHERE type = ? ORDER BY seq", (rtype,)
            ).fetchall()
        for seq, blob in rows:
            yield _parse_row(seq, blob)

    def last(self) -> Envelope | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT seq, envelope FROM records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _parse_row(*row)

    def verify(self) -> int:
        """Verify the whole ledger against the device's key history and its end against the
        head witness; return the count (see `kiosk.ledger.audit.verify_envelopes`)."""
        with self._lock:
            genesis = self._meta("genesis_public_key")
        count = verify_envelopes(
            self.iter_envelopes(),
            genesis_b64=genesis,
            device_id=self._keys.device_id,
            history=self._keys.history,
            where=self.path,
        )
        self.check_head()
        return count

    def export_jsonl(self, fp: IO[str]) -> int:
        """Write every envelope as one canonical JSON line; return how many."""
        n = 0
        for env in self.iter_envelopes():
            fp.write(env.canonical().decode("utf-8"))
            fp.write("\n")
            n += 1
        return n


_parse_row = parse_row


__all__ = ["STATES", "LedgerStore"]
