"""Device registry: one-time enrolment tokens, enrolment, revocation."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.core.security import ENROLMENT_TOKEN_PREFIX, hash_token, new_token
from centre.errors import CentreError
from centre.models import Device, DeviceKey, EnrolmentToken, utcnow

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class EnrolmentError(CentreError):
    code = "enrolment_refused"


def _aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; every one we store is UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def create_enrolment_token(
    db: Session, *, ttl_s: float, room: str | None = None, label: str | None = None
) -> tuple[EnrolmentToken, str]:
    token = new_token(ENROLMENT_TOKEN_PREFIX)
    row = EnrolmentToken(
        token_hash=hash_token(token),
        room=room,
        label=label,
        expires_at=utcnow() + timedelta(seconds=ttl_s),
    )
    db.add(row)
    db.flush()
    return row, token


def validate_public_key(b64: str) -> bytes:
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise EnrolmentError("public key is not base64", code="bad_public_key") from None
    if len(raw) != 32:
        raise EnrolmentError("public key is not a 32-byte Ed25519 key", code="bad_public_key")
    return raw


def _parse_history(history: object, current_key: str) -> list[tuple[int, str]]:
    """The device's claimed key history, validated; [(1, current)] when none is given."""
    if history is None:
        return [(1, current_key)]
    if not isinstance(history, list) or not history:
        raise EnrolmentError("key_history must be a non-empty list", code="bad_key_history")
    out: list[tuple[int, str]] = []
    for item in history:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("public_key"), str)
            and isinstance(item.get("from_seq"), int)
            and item["from_seq"] >= 1
        ):
            raise EnrolmentError(
                "key_history entries need public_key and from_seq", code="bad_key_history"
            )
        validate_public_key(item["public_key"])
        out.append((item["from_seq"], item["public_key"]))
    out.sort()
    if out[0][0] != 1 or out[-1][1] != current_key or len({s for s, _ in out}) != len(out):
        raise EnrolmentError(
            "key_history must start at seq 1 and end with the current key", code="bad_key_history"
        )
    return out


def enroll_device(
    db: Session,
    *,
    token: str,
    device_id: str,
    public_key_b64: str,
    label: str | None = None,
    key_history: object = None,
) -> Device:
    """Consume a one-time token and register (device id, public key).

    Re-enrolling an existing device id with a *different* key is refused: a swapped key is
    how a cloned or replaced kiosk would try to take over another door's history.
    """
    if not DEVICE_ID_RE.match(device_id):
        raise EnrolmentError(f"device id {device_id!r} is not valid", code="bad_device_id")
    validate_public_key(public_key_b64)
    history = _parse_history(key_history, public_key_b64)
    row = db.scalar(
        select(EnrolmentToken)
        .where(EnrolmentToken.token_hash == hash_token(token))
        .with_for_update()
    )
    if row is None:
        raise EnrolmentError("enrolment token is not known", code="enrolment_token_unknown")
    if row.used_at is not None:
        raise EnrolmentError("enrolment token was already used", code="enrolment_token_used")
    if _aware(row.expires_at) < utcnow():
        raise EnrolmentError("enrolment token has expired", code="enrolment_token_expired")
    device = db.get(Device, device_id)
    if device is not None:
        if device.public_key != public_key_b64:
            raise EnrolmentError(
                f"device {device_id} is already enrolled with a different key",
                code="device_key_conflict",
            )
        device.status = "active"
    else:
        device = Device(
            id=device_id,
            public_key=public_key_b64,
            status="active",
            room=row.room,
            label=label or row.label,
            head_seq=0,
            max_seq=0,
        )
        db.add(device)
        for from_seq, key in history:
            db.add(DeviceKey(device_id=device_id, from_seq=from_seq, public_key=key))
    row.used_at = utcnow()
    row.used_by = device_id
    db.flush()
    return device


def set_device_status(db: Session, device_id: str, status: str) -> Device:
    if status not in {"active", "revoked"}:
        raise CentreError(f"unknown device status {status!r}", code="bad_status")
    device = db.get(Device, device_id)
    if device is None:
        raise CentreError(f"device {device_id} is not enrolled", code="device_unknown")
    device.status = status
    db.flush()
    return device


def key_history(db: Session, device_id: str) -> list[tuple[int, str]]:
    """[(from_seq, public key b64)] oldest first; the device's signing keys over time."""
    rows = db.execute(
        select(DeviceKey.from_seq, DeviceKey.public_key)
        .where(DeviceKey.device_id == device_id)
        .order_by(DeviceKey.from_seq)
    )
    return [(r.from_seq, r.public_key) for r in rows]


def add_rotated_key(db: Session, device: Device, from_seq: int, public_key_b64: str) -> None:
    """Record a key the device rotated to (learnt from its signed `key_rotated` record)."""
    if db.get(DeviceKey, (device.id, from_seq)) is None:
        db.add(DeviceKey(device_id=device.id, from_seq=from_seq, public_key=public_key_b64))
    if from_seq >= max((s for s, _ in key_history(db, device.id)), default=0):
        device.public_key = public_key_b64


def list_devices(db: Session) -> list[Device]:
    return list(db.scalars(select(Device).order_by(Device.id)))
