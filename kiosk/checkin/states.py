"""What the screen is told: the flow's state snapshot (read-only, safe to hand to Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.checkin.decision import CheckinDecision, Reason
from kiosk.checkin.roster import BookedApplicant


class StateName(StrEnum):
    IDLE = "idle"
    CLAIMED = "claimed"
    CAPTURE = "capture"
    LIVENESS = "liveness"
    MATCH = "match"
    DECISION = "decision"


@dataclass(frozen=True)
class ApplicantView:
    """What the screen may show about the claimed applicant (no IIN, no template)."""

    applicant_id: str
    name: str
    seat: str


@dataclass(frozen=True)
class FlowState:
    """A snapshot for the UI: which state, why we are here, what to tell the applicant."""

    name: StateName
    reason: Reason | None = None
    prompt: str | None = None  # quality reason ("move_closer") or liveness prompt
    applicant: ApplicantView | None = None
    progress: float = 0.0  # 0..1 within the state
    deadline: float | None = None  # on the flow's clock
    decision: CheckinDecision | None = None
    attempt: int = 0


def applicant_view(applicant: BookedApplicant) -> ApplicantView:
    return ApplicantView(applicant.applicant_id, applicant.name, applicant.seat)


__all__ = ["ApplicantView", "FlowState", "StateName", "applicant_view"]
