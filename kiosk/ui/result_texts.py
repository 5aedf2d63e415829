"""The words, icon, tone and sound of a result screen, from the flow's decision and next
step. Qt-free (it only reads the translator), so the texts are tested without a screen.

Rules from the door: the headline says what happened without blame, the action line
says what to do (as large as the headline: it is what people read from the queue), the
applicant is named by initials, and a held result carries the reference code the
proctor finds the case by.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.checkin.decision import CLAIM_REFUSALS, Decision
from kiosk.checkin.states import FlowState, NextStep
from kiosk.ui.i18n import Translator


@dataclass(frozen=True)
class ResultTexts:
    tone: str  # "good" | "warn" | "bad": the background
    icon: str  # "check" | "cross" | "hand" | "retry": never colour alone
    sound: str  # a `SoundCues` cue
    title: str
    detail: str
    action: str
    reference: str


def result_texts(tr: Translator, state: FlowState, *, room: str) -> ResultTexts:
    t = tr.t
    decision = state.decision
    if decision is None:
        raise ValueError("a result screen needs a decision")
    who = state.applicant.initials if state.applicant else ""
    seat = state.applicant.seat if state.applicant else ""
    step = state.next_step or NextStep.WAIT_FOR_PROCTOR
    reference = t("result.reference", ref=state.reference) if state.hold else ""
    if decision.admits:
        detail = t("result.accepted.detail", room=room, seat=seat)
        if decision.decision == Decision.ACCEPTED_BY_OVERRIDE:
            detail = t("decision.overridden") + ". " + detail
        return ResultTexts(
            "good",
            "check",
            "accepted",
            t("result.accepted.title", name=who) if who else t("idle.title"),
            detail,
            t("result.accepted.go"),
            "",
        )
    reason = tr.t_opt("decision", decision.reason.value)
    if decision.reason in CLAIM_REFUSALS:
        title = t("result.claim_refused.title")
    elif decision.decision == Decision.NEEDS_PROCTOR:
        title = t("result.needs_proctor.title")
    else:
        title = t("result.refused.title")
    action = _action(tr, state, step)
    if step == NextStep.TRY_AGAIN:
        return ResultTexts("warn", "retry", "try_again", title, reason, action, reference)
    if step == NextStep.WAIT_FOR_PROCTOR:
        icon = "cross" if decision.decision == Decision.REJECTED else "hand"
        tone = "bad" if icon == "cross" else "warn"
        return ResultTexts(tone, icon, "wait", title, reason, action, reference)
    return ResultTexts("warn", "hand", "wait", title, reason, action, reference)


def _action(tr: Translator, state: FlowState, step: NextStep) -> str:
    t = tr.t
    if step == NextStep.TRY_AGAIN:
        return t("result.try_again", left=state.attempts_left)
    if step == NextStep.GO_TO_ROOM:
        return t("result.go_to_room", room=state.go_to_room or "")
    if step == NextStep.COME_BACK_LATER and state.opens_at is not None:
        # Local wall-clock time: what the applicant's own watch shows.
        return t("result.come_back_at", time=state.opens_at.astimezone().strftime("%H:%M"))
    if step == NextStep.CHECK_CODE:
        return t("result.check_code")
    if step == NextStep.PLEASE_WAIT:
        return t("result.please_wait")
    return t("result.wait_for_proctor")


__all__ = ["ResultTexts", "result_texts"]
