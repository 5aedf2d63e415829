"""Roster publishing: validate, version, sign with the centre key, store.

The centre assigns the version (previous + 1 for the room) so kiosks' anti-rollback check
is meaningful even if an operator re-uploads an old file; what is served is the exact
signed document, byte-for-byte what kiosks verify.

At rest the document is AES-256-GCM under the sealed roster-storage key, bound to its
(room, version): it carries every booked applicant's enrolment templates, and a plain
copy sat in the database (and its WAL) forever. It is purged (emptied; the hash and the
version stay) once its session ended `retention` ago, the kiosk's template rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centre.core.keys import CentreKey
from centre.models import Roster as RosterRow
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.errors import RosterError
from kiosk.protocol.roster import RosterDocument, sign_roster_document

ENCRYPTED_PREFIX = "enc-v1:"


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
        signed_doc=encrypt_roster(key.roster_key, room, roster.version, text),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        created_by=created_by,
        session_ends_at=roster.session.ends_at,
    )
    db.add(row)
    db.flush()
    return row


def latest_roster(db: Session, room: str) -> RosterRow | None:
    return db.scalar(
        select(RosterRow).where(RosterRow.room == room).order_by(RosterRow.version.desc()).limit(1)
    )


def _aad(room: str, version: int) -> bytes:
    return f"roster:{room}:{version}".encode()


def encrypt_roster(roster_key: bytes, room: str, version: int, text: str) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(roster_key).encrypt(nonce, text.encode("utf-8"), _aad(room, version))
    return ENCRYPTED_PREFIX + base64.b64encode(nonce + ct).decode("ascii")


def roster_text(roster_key: bytes, row: RosterRow) -> str:
    """The signed document of `row`, decrypted; RosterError if purged or altered."""
    if row.purged_at is not None or not row.signed_doc:
        raise RosterError(
            f"roster {row.room} v{row.version} was purged: its session ended and its "
            "retention is over",
            code="roster_purged",
        )
    if not row.signed_doc.startswith(ENCRYPTED_PREFIX):
        return row.signed_doc  # written before encryption at rest; sealed by `seal_legacy`
    try:
        raw = base64.b64decode(row.signed_doc[len(ENCRYPTED_PREFIX) :], validate=True)
        text = AESGCM(roster_key).decrypt(raw[:12], raw[12:], _aad(row.room, row.version))
    except (ValueError, binascii.Error, InvalidTag):
        raise RosterError(
            f"stored roster {row.room} v{row.version} cannot be decrypted (altered, or "
            "another roster key)"
        ) from None
    return text.decode("utf-8")


def seal_legacy_rosters(db: Session, roster_key: bytes) -> int:
    """Encrypt rows stored in plain text by an older centre; returns how many."""
    rows = db.scalars(
        select(RosterRow).where(
            RosterRow.purged_at.is_(None), ~RosterRow.signed_doc.startswith(ENCRYPTED_PREFIX)
        )
    ).all()
    for row in rows:
        if row.signed_doc:
            row.signed_doc = encrypt_roster(roster_key, row.room, row.version, row.signed_doc)
    return len(rows)


def purge_rosters(db: Session, now: datetime, retention: timedelta) -> int:
    """Empty every roster whose session ended `retention` before `now`; returns how many.
    A roster with no recorded end is kept until its newer version replaces it."""
    rows = db.scalars(
        select(RosterRow).where(
            RosterRow.purged_at.is_(None),
            RosterRow.session_ends_at.is_not(None),
            RosterRow.session_ends_at <= now - retention,
        )
    ).all()
    for row in rows:
        row.signed_doc = ""
        row.purged_at = now
    return len(rows)
