"""How the proctor panel words the door's state: the centre link and each booked
applicant. Qt-free, so the words are decided (and tested) without a screen; the panel
only translates and shows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.checkin.flow import CheckinFlow

CentreState = Callable[[], str]  # "online" | "offline" | "not_configured"


def centre_state_of(sync: Any | None) -> CentreState:
    """No sync client means the kiosk is configured offline; otherwise the client's last
    push decides (it retries by itself)."""

    def state() -> str:
        if sync is None:
            return "not_configured"
        if getattr(sync, "last_error", None) is None and getattr(sync, "last_success_at", None):
            return "online"
        return "offline"

    return state


def applicant_status(flow: CheckinFlow, applicant_id: str) -> str:
    """The status word for one booked applicant, read from the session book the flow keeps
    (display only: the book is the flow's own record of what happened)."""
    book = flow.book
    mine = [r for r in book.refusals.values() if r.applicant_id == applicant_id]
    if applicant_id in book.checked_in:
        overridden = any(r.record_id in book.overridden for r in mine)
        return "accepted_by_override" if overridden else "accepted"
    if mine:
        return mine[-1].decision.value
    return "waiting"
