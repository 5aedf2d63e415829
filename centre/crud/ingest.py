"""Batch ingest: verify, deduplicate, chain and store a kiosk's records.

One batch from one device, inside the caller's transaction, in four steps, each in its
own module:

1. parse and authenticate each envelope (`ingest_verify`: strict envelope, right device,
   signature with the key in force at its seq, not from the future);
2. sort the authentic ones into new, duplicate, id conflict and fork (`record_rows`);
3. advance the device's verified chain head (`chain_head`: prev must match, records after
   a gap wait unchained and raise a `gap` incident until the gap is filled);
4. store the new records (`record_rows`) and learn any key rotation they carry.

Good records are kept whatever happens to bad ones.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from centre.crud.chain_head import advance_head, flag_gap
from centre.crud.devices import add_rotated_key, key_history
from centre.crud.heads import check_record_against_head
from centre.crud.incidents import raise_incident, resolve_gaps
from centre.crud.ingest_verify import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    Authenticator,
    Candidate,
    RecordResult,
    Refusal,
    parse_envelope,
)
from centre.crud.ingest_verify import announced_keys as _announced_keys
from centre.crud.record_rows import classify, store_new
from centre.models import Device
from kiosk.protocol.chain import KeyHistory

log = logging.getLogger(__name__)


def device_keys(db: Session, device: Device) -> KeyHistory:
    """The device's key history as the centre knows it (enrolment and rotations)."""
    return KeyHistory(key_history(db, device.id) or [(1, device.public_key)])


class BatchIngestor:
    """Ingest one batch for one device inside the caller's transaction."""

    def __init__(
        self,
        db: Session,
        device: Device,
        *,
        now: datetime | None = None,
        max_future_skew_s: float = 300.0,
    ) -> None:
        self.db = db
        self.device = device
        self.now = now or datetime.now(UTC)
        self.auth = Authenticator(
            device.id,
            device_keys(db, device),
            now=self.now,
            max_future=self.now + timedelta(seconds=max_future_skew_s),
        )

    def _refuse(self, results: list[RecordResult], r: Refusal) -> None:
        results[r.index] = RecordResult(r.index, r.id, r.seq, REJECTED, r.reason, r.detail)
        if r.incident:
            raise_incident(
                self.db, self.device.id, r.reason, seq=r.seq, record_id=r.id, detail=r.detail
            )

    def ingest(self, raw_envelopes: list[Any]) -> list[RecordResult]:
        results = [
            RecordResult(i, None, None, REJECTED, "internal") for i in range(len(raw_envelopes))
        ]
        parsed = []
        for i, raw in enumerate(raw_envelopes):
            outcome = parse_envelope(i, raw, self.device.id)
            if isinstance(outcome, Refusal):
                self._refuse(results, outcome)
            else:
                parsed.append((i, outcome))
        parsed.sort(key=lambda p: p[1].record.seq)
        cands: list[Candidate] = []
        for i, env in parsed:
            checked = self.auth.check(i, env)
            if isinstance(checked, Refusal):
                self._refuse(results, checked)
            else:
                cands.append(checked)
        if not cands:
            self._touch()
            return results

        new, duplicates, refusals = classify(self.db, self.device.id, cands)
        for c in duplicates:
            results[c.index] = RecordResult(c.index, c.env.record.id, c.env.record.seq, DUPLICATE)
        old_head = self.device.head_seq
        chained, head_refusals = advance_head(self.db, self.device, new)
        for r in [*refusals, *head_refusals]:
            self._refuse(results, r)
        store_new(self.db, self.device, new, chained, self.now)
        for seq, c in new.items():  # a seq the device already reported with another hash
            check_record_against_head(self.db, self.device.id, seq, c.digest)
        for seq, c in new.items():
            results[c.index] = RecordResult(c.index, c.env.record.id, seq, ACCEPTED)
        rotations = self.auth.rotations
        for r in results:
            rotation = rotations.get(r.id) if r.id is not None else None
            if r.status in (ACCEPTED, DUPLICATE) and rotation is not None:
                add_rotated_key(self.db, self.device, rotation.from_seq, rotation.public_key_b64)
        if self.device.head_seq > old_head:
            resolve_gaps(self.db, self.device.id, self.device.head_seq)
        flag_gap(self.db, self.device)
        self._touch()
        return results

    def _touch(self) -> None:
        self.device.last_seen_at = self.now


def announced_keys(db: Session, device: Device, raw_envelopes: list[Any]) -> list[str]:
    """Keys handed over to by authentic `key_rotated` records in a batch (see
    `ingest_verify.announced_keys`): they may sign the request that carries them."""
    return _announced_keys(device.id, device_keys(db, device), raw_envelopes)


__all__ = ["ACCEPTED", "DUPLICATE", "REJECTED", "BatchIngestor", "RecordResult", "announced_keys"]
