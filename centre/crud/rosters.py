"""Roster publishing: validate, version, sign with the centre key, store.

The centre assigns the version (previous + 1 for the room) so kiosks' anti-rollback check
is meaningful even if an operator re-uploads an old file; what is stored and served is
the exact signed document, byte-for-byte what kiosks verify.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centre.core.keys import CentreKey
from centre.models import Roster as RosterRow
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.errors import RosterError
from kiosk.protocol.roster import RosterDocument, sign_roster_document


def publish_roster(
    db: Session, key: CentreKey, room: str, doc: Any, *, created_by: str | None = None
) -> RosterRow:
    """Sign and store `doc` (an unsigned roster document) as the newest version for `room`."""
    if not isinstance(doc, dict):
        raise RosterError("a roster must be a JSON object")
    doc = dict(doc)
    if isinstance(doc.get("roster"), dict) and "sig" in doc:
        doc = dict(doc["roster"])  # an already-signed file: re-sign it with our key
    session = doc.get("session")
    if not isinstance(session, dict) or session.get("room") != room:
        raise RosterError(f"the roster's session.room must be {room!r}")
    current = db.scalar(select(func.max(RosterRow.version)).where(RosterRow.room == room)) or 0
    now = datetime.now(UTC)
    doc["version"] = current + 1
    doc.setdefault("v", 1)
    doc.setdefault("issued_at", format_ts(now))
    doc.setdefault("expires_at", format_ts(now + timedelta(days=2)))
    roster = RosterDocument.from_dict(doc)  # strict: refuses what a kiosk would refuse
    signed = sign_roster_document(doc, key.private_key)
    text = json.dumps(signed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    row = RosterRow(
        room=room,
        version=roster.version,
        signed_doc=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    return row


def latest_roster(db: Session, room: str) -> RosterRow | None:
    return db.scalar(
        select(RosterRow).where(RosterRow.room == room).order_by(RosterRow.version.desc()).limit(1)
    )
