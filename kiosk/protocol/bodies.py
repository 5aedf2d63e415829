"""A typed model per record body: the record schema, written once.

Field names are those the kiosk has always written, so existing ledgers parse. Kiosk
builders construct these models and put `to_dict()` in the record; readers (verifiers,
reports, tests) call `parse_body(record_type, body)` for a strict, typed view.
``device_event`` and ``calibration`` records carry several kinds of body, told apart by
``body.event``; each kind has its own model here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from kiosk.protocol.body_model import ABSENT, Absent, BodyModel
from kiosk.protocol.envelope import RECORD_TYPES
from kiosk.protocol.errors import BodyFormatError

# body.event of the device_event that hands signing over to a new device key.
KEY_ROTATED_EVENT = "key_rotated"
CLOCK_JUMP_EVENT = "clock_jump"
CLOCK_SKEW_EVENT = "clock_skew"
PROCTOR_LOCKED_OUT_EVENT = "proctor_locked_out"
DOOR_UNLOCK_EVENT = "door_unlock"
STREAM_EVENT = "camera_stream_suspect"
CAMERA_REFUSED_EVENT = "camera_refused"
PIN_EVENT = "camera_pinned"
CALIBRATION_EVENT = "threshold_calibrated"

# The reason codes an ``override`` body may carry (kiosk.checkin.overrides.OverrideReason
# names them for the kiosk; the centre's reports count by them).
OVERRIDE_REASON_CODES = (
    "document_checked_manually",
    "camera_or_lighting_fault",
    "appearance_changed",
    "medical_or_accessibility",
    "liveness_false_reject",
    "religious_head_covering",
    "other",
)


@dataclasses.dataclass(frozen=True)
class CheckinBody(BodyModel):
    """One door decision. The evidence fields (scores, liveness, quality, timings) are
    absent when the attempt ended at the claim, before any frame was captured."""

    record_type: ClassVar[str] = "checkin"

    applicant_id: str | None
    session_id: str
    roster_id: str
    roster_version: int
    room: str
    claim: str
    decision: str
    reason: str
    attempt: int
    max_attempts: int
    pack_id: str
    threshold: float
    score: float | None
    at: str
    second_best: float | Absent | None = ABSENT
    match: dict[str, Any] | Absent | None = ABSENT
    liveness: dict[str, Any] | Absent = ABSENT
    camera_stream: list[str] | Absent = ABSENT
    quality: dict[str, Any] | Absent = ABSENT
    timings_ms: dict[str, Any] | Absent = ABSENT
    detail: str | Absent = ABSENT


@dataclasses.dataclass(frozen=True)
class OverrideBody(BodyModel):
    """A proctor admits a refused applicant: who, why, and which refusal."""

    record_type: ClassVar[str] = "override"

    proctor_id: str
    reason: str
    note: str
    refused_record_id: str
    applicant_id: str | None
    session_id: str
    room: str
    role: str
    refused_decision: str
    refused_reason: str
    decision: str
    at: str


@dataclasses.dataclass(frozen=True)
class SessionOpenBody(BodyModel):
    record_type: ClassVar[str] = "session_open"

    session_id: str
    roster_id: str
    roster_version: int
    room: str
    kind: str
    proctor_id: str
    booked: int
    pack_id: str
    threshold: float
    liveness_mode: str
    at: str


@dataclasses.dataclass(frozen=True)
class SessionCloseBody(BodyModel):
    record_type: ClassVar[str] = "session_close"

    session_id: str
    room: str
    proctor_id: str
    booked: int
    checked_in: int
    no_show: int
    overrides: int
    accepted: int
    rejected: int
    needs_proctor: int
    at: str


@dataclasses.dataclass(frozen=True)
class RosterLoadedBody(BodyModel):
    record_type: ClassVar[str] = "roster_loaded"

    roster_id: str
    version: int
    session_id: str
    centre: str
    room: str
    applicants: int
    templates: int
    centre_key_id: str


@dataclasses.dataclass(frozen=True)
class EventBody(BodyModel):
    """Base of the ``device_event`` / ``calibration`` kinds, told apart by ``event``."""

    event_name: ClassVar[str] = ""

    event: str

    def __post_init__(self) -> None:
        if self.event != self.event_name:
            raise BodyFormatError(
                f"{self.record_type} body: event must be {self.event_name!r}, got {self.event!r}"
            )


@dataclasses.dataclass(frozen=True)
class KeyRotatedBody(EventBody):
    """Hands signing to `new_public_key` from `effective_seq`; signed by the old key."""

    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = KEY_ROTATED_EVENT

    old_public_key: str
    new_public_key: str
    effective_seq: int


@dataclasses.dataclass(frozen=True)
class ClockJumpBody(EventBody):
    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = CLOCK_JUMP_EVENT

    jump_s: float
    direction: str
    wall_before: str
    wall_after: str
    elapsed_s: float


@dataclasses.dataclass(frozen=True)
class ClockSkewBody(EventBody):
    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = CLOCK_SKEW_EVENT

    skew_s: float
    uncertainty_s: float
    centre_date: str
    kiosk_ts: str


@dataclasses.dataclass(frozen=True)
class ProctorLockedOutBody(EventBody):
    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = PROCTOR_LOCKED_OUT_EVENT

    proctor_id: str
    session_id: str
    detail: str
    at: str


@dataclasses.dataclass(frozen=True)
class DoorUnlockBody(EventBody):
    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = DOOR_UNLOCK_EVENT

    proctor_id: str
    role: str
    note: str
    session_id: str | None


@dataclasses.dataclass(frozen=True)
class CameraRefusedBody(EventBody):
    record_type: ClassVar[str] = "device_event"
    event_name: ClassVar[str] = CAMERA_REFUSED_EVENT

    code: str
    source: str
    reason: str


_BY_TYPE: dict[str, type[BodyModel]] = {
    m.record_type: m
    for m in (CheckinBody, OverrideBody, SessionOpenBody, SessionCloseBody, RosterLoadedBody)
}
_BY_EVENT: dict[tuple[str, str], type[EventBody]] = {
    (m.record_type, m.event_name): m
    for m in (
        KeyRotatedBody,
        ClockJumpBody,
        ClockSkewBody,
        ProctorLockedOutBody,
        DoorUnlockBody,
        CameraRefusedBody,
    )
}


def body_model(record_type: str, body: object) -> type[BodyModel]:
    """The model class for a body of `record_type`; BodyFormatError if there is none."""
    if record_type not in RECORD_TYPES:
        raise BodyFormatError(f"unknown record type {record_type!r}")
    model = _BY_TYPE.get(record_type)
    if model is not None:
        return model
    event = body.get("event") if isinstance(body, dict) else None
    event_model = _BY_EVENT.get((record_type, event))  # type: ignore[arg-type]
    if event_model is None:
        raise BodyFormatError(f"{record_type} body: unknown event {event!r}")
    return event_model


def parse_body(record_type: str, body: object) -> BodyModel:
    """Strictly parse `body` as the model of `record_type` (and ``event``)."""
    return body_model(record_type, body).from_dict(body)


__all__ = [
    "CALIBRATION_EVENT",
    "CAMERA_REFUSED_EVENT",
    "CLOCK_JUMP_EVENT",
    "CLOCK_SKEW_EVENT",
    "DOOR_UNLOCK_EVENT",
    "KEY_ROTATED_EVENT",
    "PIN_EVENT",
    "PROCTOR_LOCKED_OUT_EVENT",
    "STREAM_EVENT",
    "CameraRefusedBody",
    "CheckinBody",
    "ClockJumpBody",
    "ClockSkewBody",
    "DoorUnlockBody",
    "EventBody",
    "KeyRotatedBody",
    "OverrideBody",
    "ProctorLockedOutBody",
    "RosterLoadedBody",
    "SessionCloseBody",
    "SessionOpenBody",
    "body_model",
    "parse_body",
]
