"""What the proctor panel shows of the door's state: the centre link, each booked
applicant's status word and the refusals still open to an override. Qt-free, so it is
decided (and tested) without a screen; the panel only translates and shows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.session_book import Refusal

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


def overridable_refusals(flow: CheckinFlow) -> list[Refusal]:
    """Refusals of this session a proctor may still turn into an admission, newest first
    (the flow re-checks every rule when the override is submitted)."""
    book = flow.book
    return [
        r
        for r in reversed(book.refusals.values())
        if r.applicant_id is not None
        and r.record_id not in book.overridden
        and r.applicant_id not in book.checked_in
    ]
