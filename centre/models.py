"""SQLAlchemy 2 models: the centre's tables.

`records` keeps the raw signed envelope (the evidence) next to a few fields copied out of
the body for reports; the envelope is the source of truth and the copies can be rebuilt.
No column ever holds an image or a template: records do not carry them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Device(Base):
    """An enrolled kiosk and its pinned Ed25519 public key.

    `head_seq`/`head_digest` mark the end of the contiguous chain verified from seq 1:
    the next record must have `seq == head_seq + 1` and `prev == head_digest`.
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    room: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    head_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    head_digest: Mapped[str | None] = mapped_column(String(64))
    max_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DeviceKey(Base):
    """Every public key a device has signed with, and the first seq it signs.

    A kiosk rotates its key with a `device_event` (`key_rotated`) signed by the old key;
    the centre learns the new key from that record, so no re-enrolment is needed.
    """

    __tablename__ = "device_keys"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    from_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64), nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeviceHead(Base):
    """The highest signed ledger head (seq, hash) a device has reported: the centre is the
    second witness of each kiosk's ledger, so a kiosk that reports less was rolled back."""

    __tablename__ = "device_heads"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str | None] = mapped_column(String(64))
    sig: Mapped[str] = mapped_column(String(128), nullable=False)  # the device's signature
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_contact_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EnrolmentToken(Base):
    """A one-time token an admin hands to a technician to enrol one kiosk."""

    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    room: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(String(64))


class StoredRecord(Base):
    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the record's UUIDv7
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    ts: Mapped[str] = mapped_column(String(40), nullable=False)  # RFC 3339 as signed
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    prev: Mapped[str | None] = mapped_column(String(64))
    # False while an earlier seq is missing, so the link to it is not yet checked.
    chained: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    envelope: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Copied out of the body for reports.
    session_id: Mapped[str | None] = mapped_column(String(128))
    room: Mapped[str | None] = mapped_column(String(64))
    applicant_id: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str | None] = mapped_column(String(32))
    proctor_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(64))
    overrides: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("device_id", "seq", name="uq_records_device_seq"),
        Index("ix_records_session", "session_id"),
        Index("ix_records_room", "room"),
        Index("ix_records_applicant", "applicant_id"),
        Index("ix_records_type_ts", "type", "ts"),
    )


class Incident(Base):
    """Something the chain or a batch revealed that a person should look at."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    seq: Mapped[int | None] = mapped_column(Integer)
    record_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_incidents_device_kind", "device_id", "kind", "seq"),)


class Roster(Base):
    """A roster the centre signed, one row per (room, version); kiosks take the newest."""

    __tablename__ = "rosters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # AES-256-GCM of the signed document ("enc-v1:" + base64), "" once purged: the
    # document carries enrolment templates (centre/crud/rosters.py).
    signed_doc: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    session_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("room", "version", name="uq_rosters_room_version"),)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
