"""After a decision: what the applicant is told to do, and how long the screen stays.

A pure policy, apart from the state machine, because it is what people at the door feel:
a first failed attempt is "try again", not "call the proctor"; a wrong room names the
right one; anything the kiosk cannot settle holds the screen, with a short reference
code, until a proctor acknowledges it (a result that vanished after a few seconds sent
the proctor to a "Welcome" screen with nothing on it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.checkin.decision import CheckinDecision, Decision, Reason
from kiosk.checkin.roster import Roster
from kiosk.checkin.states import ApplicantView, FlowState, NextStep, StateName
from kiosk.config import CheckinConfig

# Refusals that point at fraud rather than bad luck: retrying alone would only let a
# stand-in keep probing the matcher, so a proctor looks first.
_SUSPICIOUS = frozenset(
    {Reason.SUSPECTED_STAND_IN, Reason.FACE_CHANGED, Reason.CAMERA_STREAM_SUSPICIOUS}
)


def next_step(decision: CheckinDecision, attempts_left: int) -> NextStep:
    """The applicant's next step after `decision` with `attempts_left` attempts to go."""
    if decision.admits:
        return NextStep.GO_IN
    reason = decision.reason
    if reason == Reason.WRONG_ROOM:
        return NextStep.GO_TO_ROOM
    if reason == Reason.TOO_EARLY:
        return NextStep.COME_BACK_LATER
    if reason == Reason.UNKNOWN_BOOKING:
        return NextStep.CHECK_CODE
    if reason in (Reason.SESSION_NOT_OPEN, Reason.ROSTER_EXPIRED):
        return NextStep.PLEASE_WAIT  # about the kiosk, not the person: nothing to hold
    if decision.decision == Decision.REJECTED and attempts_left > 0 and reason not in _SUSPICIOUS:
        return NextStep.TRY_AGAIN
    return NextStep.WAIT_FOR_PROCTOR


def display_seconds(step: NextStep, cfg: CheckinConfig) -> float | None:
    """How long the result stays on screen; None holds it until a proctor acknowledges.
    A try-again offer stays as long as a claim would wait, so a person who reads slowly
    still finds the button."""
    if step == NextStep.WAIT_FOR_PROCTOR:
        return None
    if step == NextStep.TRY_AGAIN:
        return max(cfg.claim_timeout_s, cfg.decision_display_s)
    return cfg.decision_display_s


def reference_code(record_id: str) -> str:
    """Four digits from the end of the record id (UUIDv7: the random part), enough for a
    proctor to find one case among a session's refusals. Digits, not hex letters: they
    read the same in Kazakh, Russian and English, and are easy to say aloud."""
    return f"{int(record_id.replace('-', '')[-8:], 16) % 10_000:04d}"


def checkin_opens_at(roster: Roster, cfg: CheckinConfig) -> datetime:
    return roster.session.starts_at - timedelta(minutes=cfg.early_window_min)


def decision_state(
    result: CheckinDecision,
    applicant: ApplicantView | None,
    attempt: int,
    *,
    attempts_used: int | None,
    roster: Roster,
    cfg: CheckinConfig,
    now: float,
) -> FlowState:
    """The DECISION state the screen shows for a recorded `result`: the next step, how
    long it stays (`now` on the flow's clock), and what the action line needs to name."""
    left = 0 if attempts_used is None else max(0, cfg.max_attempts - attempts_used)
    step = next_step(result, left)
    shown = display_seconds(step, cfg)
    reason = result.reason
    return FlowState(
        StateName.DECISION,
        reason,
        None,
        applicant,
        1.0,
        None if shown is None else now + shown,
        result,
        attempt,
        next_step=step,
        attempts_left=left,
        hold=shown is None,
        reference=reference_code(result.record_id),
        go_to_room=roster.session.room if reason == Reason.WRONG_ROOM else None,
        opens_at=checkin_opens_at(roster, cfg) if reason == Reason.TOO_EARLY else None,
    )


__all__ = [
    "checkin_opens_at",
    "decision_state",
    "display_seconds",
    "next_step",
    "reference_code",
]
