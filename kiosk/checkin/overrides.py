"""The override policy: why a proctor may let in someone the kiosk refused (a fixed list
of reasons, so reports can count them) and what a valid override must carry (a named
proctor, a written note, the refused record's id). An invalid override cannot be built."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.checkin.proctor import PROCTOR_ID_RE
from kiosk.errors import PolicyViolation
from kiosk.protocol.canonical import is_uuid7


class OverrideReason(StrEnum):
    """Why a proctor let in someone the kiosk refused; a fixed list so reports can count."""

    DOCUMENT_CHECKED_MANUALLY = "document_checked_manually"
    CAMERA_OR_LIGHTING_FAULT = "camera_or_lighting_fault"
    APPEARANCE_CHANGED = "appearance_changed"
    MEDICAL_OR_ACCESSIBILITY = "medical_or_accessibility"
    LIVENESS_FALSE_REJECT = "liveness_false_reject"
    # Kept on by choice, face checked by the proctor: counted apart from "appearance".
    RELIGIOUS_HEAD_COVERING = "religious_head_covering"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    OverrideReason.DOCUMENT_CHECKED_MANUALLY: "Identity document checked by hand",
    OverrideReason.CAMERA_OR_LIGHTING_FAULT: "Camera or lighting fault",
    OverrideReason.APPEARANCE_CHANGED: "Appearance changed since enrolment photo",
    OverrideReason.MEDICAL_OR_ACCESSIBILITY: "Medical or accessibility reason",
    OverrideReason.LIVENESS_FALSE_REJECT: "Liveness check wrongly failed",
    OverrideReason.RELIGIOUS_HEAD_COVERING: "Religious head covering",
    OverrideReason.OTHER: "Other (explain in the note)",
}

NOTE_MIN, NOTE_MAX, NOTE_MIN_OTHER = 10, 500, 30


@dataclass(frozen=True)
class OverrideRequest:
    """A proctor's request to override a refused check-in; validated on construction, so
    an invalid override cannot exist. `to_body()` is the ``override`` record body."""

    proctor_id: str
    reason: OverrideReason
    note: str
    refused_record_id: str

    def __post_init__(self) -> None:
        raw: object = self.reason  # typed as the enum, but built from untrusted input
        if not isinstance(raw, OverrideReason):
            try:
                object.__setattr__(self, "reason", OverrideReason(self.reason))
            except ValueError:
                raise PolicyViolation(f"unknown override reason {self.reason!r}") from None
        if not isinstance(self.proctor_id, str) or not PROCTOR_ID_RE.match(self.proctor_id):
            raise PolicyViolation("an override must name the proctor")
        note = self.note.strip() if isinstance(self.note, str) else ""
        object.__setattr__(self, "note", note)
        minimum = NOTE_MIN_OTHER if self.reason is OverrideReason.OTHER else NOTE_MIN
        if len(note) < minimum:
            raise PolicyViolation(
                f"override note must be at least {minimum} characters"
                + (" when the reason is Other" if self.reason is OverrideReason.OTHER else "")
            )
        if len(note) > NOTE_MAX:
            raise PolicyViolation(f"override note must be at most {NOTE_MAX} characters")
        if not is_uuid7(self.refused_record_id):
            raise PolicyViolation(
                f"refused_record_id {self.refused_record_id!r} is not a ledger record id"
            )

    def to_body(self) -> dict[str, str]:
        return {
            "proctor_id": self.proctor_id,
            "reason": self.reason.value,
            "note": self.note,
            "refused_record_id": self.refused_record_id,
        }


__all__ = ["NOTE_MAX", "NOTE_MIN", "NOTE_MIN_OTHER", "OverrideReason", "OverrideRequest"]
