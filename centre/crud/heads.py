"""The centre as the second witness of each kiosk's ledger head.

Why: a kiosk's own witness (keyring or a signed file, `kiosk.ledger.witness`) can be
rolled back together with its ledger by someone who restores one older copy of the whole
data folder. The centre is out of their reach. At every sync contact (a push, or a
heartbeat when there is nothing to send) the kiosk reports its signed head (seq, hash of
the last envelope); the centre keeps the highest one per device and raises an incident:

* ``head_rollback``: a head below the highest one seen (records were removed or an older
  copy restored);
* ``head_mismatch``: a head whose hash differs from the one seen at that seq, or from the
  stored record at that seq (the ledger was rewritten);
* ``seq_reused``: a record arrives whose seq the device already reported with another
  hash (the kiosk wrote new history over a witnessed seq, e.g. after a rollback).

Incidents show in ``GET /api/v1/incidents`` and in the override report (`reports.py`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.crud.devices import key_history
from centre.crud.incidents import raise_incident
from centre.errors import CentreError
from centre.models import Device, DeviceHead, StoredRecord, utcnow
from kiosk.protocol.errors import CodedError
from kiosk.protocol.keys import load_public_key_b64
from kiosk.protocol.ledger_head import LedgerHead, SignedHead

log = logging.getLogger(__name__)

HEAD_KINDS = ("head_rollback", "head_mismatch", "seq_reused")


class HeadRefused(CentreError):
    """A head report that is not this device's signed head."""

    code = "head_invalid"


@dataclass(frozen=True)
class HeadVerdict:
    highest_seq: int
    incidents: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"highest_seq": self.highest_seq, "incidents": self.incidents}


def parse_signed_head(doc: object, device: Device, db: Session) -> SignedHead:
    """The head in `doc`, signed by one of the device's keys (current or retired)."""
    try:
        signed = SignedHead.from_dict(doc)
    except ValueError as exc:
        raise HeadRefused(f"not a signed ledger head ({exc})") from None
    if signed.head.device != device.id:
        raise HeadRefused(f"head of device {signed.head.device!r}, sent by {device.id!r}")
    h = signed.head
    if h.hash is not None and (len(h.hash) != 64 or not _is_hex(h.hash)):
        raise HeadRefused("head hash must be 64 lowercase hex digits")
    if (h.seq == 0) != (h.hash is None):
        raise HeadRefused("only an empty ledger (seq 0) has no head hash")
    keys = []
    for _from, key in key_history(db, device.id) or [(1, device.public_key)]:
        with contextlib.suppress(CodedError):
            keys.append(load_public_key_b64(key))
    if not signed.verified_by(keys):
        raise HeadRefused("head signature does not verify with this device's keys")
    return signed


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return value == value.lower()


def report_head(db: Session, device: Device, signed: SignedHead) -> HeadVerdict:
    """Compare a reported head with what the centre has seen; keep the highest."""
    head: LedgerHead = signed.head
    row = db.get(DeviceHead, device.id)
    now = utcnow()
    kinds: list[str] = []
    stored = db.scalar(
        select(StoredRecord.digest).where(
            StoredRecord.device_id == device.id, StoredRecord.seq == head.seq
        )
    )
    if stored is not None and stored != head.hash:
        kinds.append("head_mismatch")
        raise_incident(
            db,
            device.id,
            "head_mismatch",
            seq=head.seq,
            detail=f"device reports head seq {head.seq} with hash {head.hash}, but the "
            f"record stored at seq {head.seq} has {stored}: its ledger was rewritten",
        )
    if row is None:
        db.add(
            DeviceHead(
                device_id=device.id,
                seq=head.seq,
                hash=head.hash,
                sig=signed.sig,
                reported_at=now,
                last_contact_at=now,
            )
        )
        return HeadVerdict(head.seq, kinds)
    row.last_contact_at = now
    if head.seq < row.seq:
        kinds.append("head_rollback")
        raise_incident(
            db,
            device.id,
            "head_rollback",
            seq=head.seq,
            detail=f"device reports head seq {head.seq}, below seq {row.seq} it reported "
            "before: records were removed or an older copy of its ledger restored",
        )
    elif head.seq == row.seq and head.hash != row.hash and "head_mismatch" not in kinds:
        kinds.append("head_mismatch")
        raise_incident(
            db,
            device.id,
            "head_mismatch",
            seq=head.seq,
            detail=f"device reports head seq {head.seq} with hash {head.hash}, but reported "
            f"{row.hash} at that seq before: its ledger was rewritten",
        )
    elif head.seq > row.seq:
        row.seq, row.hash, row.sig, row.reported_at = head.seq, head.hash, signed.sig, now
    return HeadVerdict(max(row.seq, head.seq), kinds)


def check_record_against_head(db: Session, device_id: str, seq: int, digest: str) -> bool:
    """Raise ``seq_reused`` when a record takes a seq the device already reported with
    another hash; True when it did. Called by ingest for every new record."""
    row = db.get(DeviceHead, device_id)
    if row is None or row.seq != seq or row.hash == digest:
        return False
    raise_incident(
        db,
        device_id,
        "seq_reused",
        seq=seq,
        detail=f"record seq {seq} has hash {digest}, but the device reported {row.hash} at "
        "that seq: it wrote new history over a witnessed record",
    )
    return True


__all__ = [
    "HEAD_KINDS",
    "HeadRefused",
    "HeadVerdict",
    "check_record_against_head",
    "parse_signed_head",
    "report_head",
]
