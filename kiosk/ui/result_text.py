"""The words of the result screen, Qt-free: the applicant screen shows them and the
headless demo prints them, so both say the same thing in the same language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kiosk.checkin.decision import CLAIM_REFUSALS, Decision
from kiosk.checkin.flow import FlowState, StateName
from kiosk.ui.i18n import Translator

Tone = Literal["good", "warn", "bad"]


@dataclass(frozen=True)
class ResultText:
    tone: Tone
    title: str
    detail: str
    next_step: str


def result_text(tr: Translator, state: FlowState, room: str) -> ResultText | None:
    """What the result screen says for a decision state; None for any other state."""
    t, decision = tr.t, state.decision
    if state.name != StateName.DECISION or decision is None:
        return None
    name = state.applicant.name if state.applicant else ""
    seat = state.applicant.seat if state.applicant else ""
    reason = tr.t_opt("decision", decision.reason.value)
    if decision.admits:
        nxt = t("result.accepted.go")
        if decision.decision == Decision.ACCEPTED_BY_OVERRIDE:
            nxt = t("decision.overridden") + ". " + nxt
        return ResultText(
            "good",
            t("result.accepted.title", name=name),
            t("result.accepted.detail", room=room, seat=seat),
            nxt,
        )
    if decision.reason in CLAIM_REFUSALS:
        return ResultText("warn", t("result.claim_refused.title"), reason, t("result.call_proctor"))
    if decision.decision == Decision.NEEDS_PROCTOR:
        return ResultText("warn", t("result.needs_proctor.title"), reason, t("result.call_proctor"))
    return ResultText("bad", t("result.refused.title"), reason, t("result.call_proctor"))
