"""What the door decided, and why: the vocabulary shared by the flow, the ledger records,
the UI and the centre's override report.

Reason codes are stable strings (they end up in signed records and translations), so
add new ones here rather than spelling them inline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_PROCTOR = "needs_proctor"
    ACCEPTED_BY_OVERRIDE = "accepted_by_override"

    @property
    def admits(self) -> bool:
        """Whether the applicant may go through the door."""
        return self in (Decision.ACCEPTED, Decision.ACCEPTED_BY_OVERRIDE)


class Reason(StrEnum):
    """Why a state was left or a decision taken."""

    # decisions after a biometric attempt
    MATCHED = "matched"
    NO_MATCH = "no_match"
    SUSPECTED_STAND_IN = "suspected_stand_in"
    AMBIGUOUS_IDENTITY = "ambiguous_identity"
    FRAMES_INCONSISTENT = "frames_inconsistent"
    FACE_CHANGED = "face_changed_during_liveness"
    CAPTURE_TIMEOUT = "capture_timeout"
    LIVENESS_FAILED = "liveness_failed"
    LIVENESS_UNDECIDED = "liveness_undecided"
    LIVENESS_UNAVAILABLE = "liveness_unavailable"
    LIVENESS_TIMEOUT = "liveness_timeout"
    NO_TEMPLATE = "no_usable_template"
    CAMERA_STREAM_SUSPICIOUS = "camera_stream_suspicious"
    # decisions at the claim, before any face is looked at
    UNKNOWN_BOOKING = "unknown_booking"
    WRONG_ROOM = "wrong_room"
    SESSION_NOT_OPEN = "session_not_open"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    ROSTER_EXPIRED = "roster_expired"
    ALREADY_CHECKED_IN = "already_checked_in"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    # exits that are not decisions (no record about a person is written)
    CLAIM_TIMEOUT = "claim_timeout"
    CANCELLED = "cancelled"
    DECISION_SHOWN = "decision_shown"
    CLAIMED = "claimed"
    FACE_SEEN = "face_seen"
    FRAMES_COLLECTED = "frames_collected"
    LIVENESS_DONE = "liveness_done"
    OVERRIDDEN = "overridden"


# Refusals that happen before any biometric capture: they do not use up an attempt.
CLAIM_REFUSALS = frozenset(
    {
        Reason.UNKNOWN_BOOKING,
        Reason.WRONG_ROOM,
        Reason.SESSION_NOT_OPEN,
        Reason.TOO_EARLY,
        Reason.TOO_LATE,
        Reason.ROSTER_EXPIRED,
        Reason.ALREADY_CHECKED_IN,
        Reason.ATTEMPTS_EXHAUSTED,
    }
)


@dataclass(frozen=True)
class CheckinDecision:
    """The outcome of one check-in attempt, as shown on screen and written to the ledger.

    `record_id` is the id of the signed ``checkin`` record; an override must cite it.
    `body` is the exact record body (no image, no embedding), kept for the UI and tests.
    """

    decision: Decision
    reason: Reason
    applicant_id: str | None
    record_id: str
    attempt: int
    score: float | None = None
    threshold: float | None = None
    detail: str = ""
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def admits(self) -> bool:
        return self.decision.admits


__all__ = ["CLAIM_REFUSALS", "CheckinDecision", "Decision", "Reason"]
