"""What the screen is told: the flow's state snapshot (read-only, safe to hand to Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


class NextStep(StrEnum):
    """What the person in front of the kiosk should do after a decision (see
    `kiosk.checkin.next_step`): the screen's action line and buttons follow it."""

    GO_IN = "go_in"
    TRY_AGAIN = "try_again"  # refused, attempts remain: the applicant may retry now
    WAIT_FOR_PROCTOR = "wait_for_proctor"  # the screen holds until a proctor acknowledges
    GO_TO_ROOM = "go_to_room"  # wrong room: the right one is named
    COME_BACK_LATER = "come_back_later"  # too early: the opening time is named
    CHECK_CODE = "check_code"  # unknown booking: check the code or number and retry
    PLEASE_WAIT = "please_wait"  # the kiosk is not ready (session not open, old roster)


@dataclass(frozen=True)
class ApplicantView:
    """What the screen may show about the claimed applicant (no IIN, no template)."""

    applicant_id: str
    name: str
    seat: str

    @property
    def initials(self) -> str:
        """ "A. S." for "Aigerim Sadykova": people in the queue behind can read the
        screen, so it shows initials and the seat, never the full name."""
        return " ".join(f"{part[0].upper()}." for part in self.name.split() if part)


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
    # --- set on DECISION only
    next_step: NextStep | None = None
    attempts_left: int = 0
    hold: bool = False  # no deadline: stays until a proctor acknowledges
    reference: str = ""  # short code the proctor finds the case by
    go_to_room: str | None = None  # WRONG_ROOM: the room of the applicant's exam
    opens_at: datetime | None = None  # TOO_EARLY: when check-in opens (UTC)
    # --- LIVENESS only: the current challenge step's own deadline
    step_deadline: float | None = None


def applicant_view(applicant: BookedApplicant) -> ApplicantView:
    return ApplicantView(applicant.applicant_id, applicant.name, applicant.seat)


__all__ = ["ApplicantView", "FlowState", "NextStep", "StateName", "applicant_view"]
