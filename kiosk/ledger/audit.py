"""`kiosk ledger verify` without opening the ledger for writing: the whole chain against
the device's key history, then its end against the head witness.

Why a read-only path of its own: verification must look at the file as it was found. The
writing store creates its schema when it opens (an emptied or dropped file would come
back as a fresh, valid, empty ledger: "0 records verified") and needs the private key;
an audit needs neither. Only public material is read here (``device.json``, the ledger,
the signed head), so an auditor can verify a copy of a kiosk's data folder.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk.errors import KioskError, LedgerError, LedgerRolledBack, LedgerTampered
from kiosk.ledger.keys import KeyEpoch, keys_dir, load_public_key_b64, read_key_history
from kiosk.ledger.witness import HeadWitness, LedgerHead, compare_head
from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.chain import ChainVerifier
from kiosk.protocol.envelope import Envelope

_CHUNK = 500


def parse_row(seq: int, blob: bytes) -> Envelope:
    """One stored envelope, parsed strictly; an unreadable row is LedgerTampered."""
    try:
        return Envelope.from_dict(loads_bounded(blob))
    except (ValueError, UnicodeDecodeError, KioskError) as exc:
        raise LedgerTampered(f"record seq {seq}: unreadable stored record ({exc})") from None


def verify_envelopes(
    envelopes: Iterable[Envelope],
    *,
    genesis_b64: str | None,
    device_id: str,
    history: list[KeyEpoch],
    where: object,
) -> int:
    """Verify a whole ledger against the device's key history; return the count.

    The anchor is the key history in the key store (not the ledger, which an attacker
    could rewrite wholesale): rotations in the chain must match it, and the chain must end
    signed by the current key, so a cut-off tail that removed a rotation is also caught.
    """
    known = {e.public_key_b64: e.from_seq for e in history}
    if genesis_b64 is None or genesis_b64 not in known:
        raise LedgerTampered(f"ledger {where} was started by a key this device never had")
    verifier = ChainVerifier(load_public_key_b64(genesis_b64), device=device_id)
    count = verifier.verify(envelopes)
    for rot in verifier.rotations:
        if known.get(rot.public_key_b64) != rot.from_seq:
            raise LedgerTampered(
                f"record id {rot.record_id}: key rotation at seq {rot.from_seq - 1} "
                "is not in this device's key history"
            )
    if count and verifier.public_key != history[-1].public_key:
        raise LedgerTampered(
            f"ledger ends at seq {verifier.next_seq - 1} before the rotation to the "
            f"current key (from seq {history[-1].from_seq}): records were removed from the end"
        )
    return count


@dataclass(frozen=True)
class AuditReport:
    device_id: str
    records: int
    head: LedgerHead
    witnessed: LedgerHead | None
    witness_places: list[str]


def audit_ledger(path: Path, data_dir: Path) -> AuditReport:
    """Verify the ledger at `path` read-only; raise LedgerTampered / LedgerRolledBack naming
    what is wrong (never creates a table, never writes a byte)."""
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"no ledger at {path}")
    device_id, history = read_key_history(keys_dir(data_dir))
    witness = HeadWitness.for_directory(
        keys_dir(data_dir), device_id, lambda: [e.public_key for e in history]
    )
    witnessed = witness.read()
    size = path.stat().st_size
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open ledger {path} ({exc})") from None
    try:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise LedgerTampered(f"ledger {path} is not a readable database ({exc})") from None
        if not {"records", "meta"} <= tables:
            what = "the file is 0 bytes" if size == 0 else "its records table is missing"
            if witnessed is not None and witnessed.seq > 0:
                raise LedgerRolledBack(
                    f"ledger rolled back: witness seq {witnessed.seq}, ledger holds nothing "
                    f"({what})"
                )
            raise LedgerTampered(f"ledger {path} holds no ledger ({what})")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("device_id") != device_id:
            raise LedgerTampered(
                f"ledger {path} belongs to device {meta.get('device_id')}, not {device_id}"
            )
        count = verify_envelopes(
            iter_stored(conn),
            genesis_b64=meta.get("genesis_public_key"),
            device_id=device_id,
            history=history,
            where=path,
        )
        last = conn.execute("SELECT seq, envelope FROM records ORDER BY seq DESC LIMIT 1")
        row = last.fetchone()
        head = (
            LedgerHead(device_id, 0, None)
            if row is None
            else LedgerHead(device_id, row[0], parse_row(*row).digest())
        )

        def digest_at(seq: int) -> str | None:
            found = conn.execute(
                "SELECT seq, envelope FROM records WHERE seq = ?", (seq,)
            ).fetchone()
            return None if found is None else parse_row(*found).digest()

        compare_head(witnessed, head.seq, digest_at)
    except sqlite3.DatabaseError as exc:
        raise LedgerTampered(f"ledger {path} cannot be read ({exc})") from None
    finally:
        conn.close()
    return AuditReport(device_id, count, head, witnessed, witness.places)


def iter_stored(
    conn: sqlite3.Connection, lock: AbstractContextManager[Any] | None = None
) -> Iterator[Envelope]:
    """Every stored record in seq order, read in chunks (so a large ledger is never in
    memory at once), parsed strictly; `lock` is held per chunk, not across the caller."""
    after = 0
    while True:
        with lock or contextlib.nullcontext():
            rows = conn.execute(
                "SELECT seq, envelope FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, _CHUNK),
            ).fetchall()
        if not rows:
            return
        for seq, blob in rows:
            yield parse_row(seq, blob)
        after = rows[-1][0]


__all__ = ["AuditReport", "audit_ledger", "iter_stored", "parse_row", "verify_envelopes"]
