"""Who is claiming, and whether this kiosk may check them in right now.

These checks come before any face is looked at, so they cost the applicant no attempt;
each refusal still becomes a signed record (see `CheckinFlow`), because a person turned
away at the door is something the centre should be able to count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.checkin.decision import Reason
from kiosk.checkin.roster import BookedApplicant, Roster
from kiosk.checkin.session_book import SessionBook
from kiosk.config import CheckinConfig
from kiosk.errors import PolicyViolation

QR_PREFIX = "BOOKING:"
CLAIM_METHODS = ("booking_code", "iin", "qr", "applicant_id")


def parse_qr_payload(text: str) -> str:
    """The booking code in a booking QR: ``BOOKING:<code>`` or the bare code."""
    text = text.strip()
    return text[len(QR_PREFIX) :] if text.upper().startswith(QR_PREFIX) else text


def one_claim(**given: str | None) -> tuple[str, str]:
    """(method, value) from keyword arguments of which exactly one is set."""
    present = [(k, v) for k, v in given.items() if v is not None]
    if len(present) != 1 or present[0][0] not in CLAIM_METHODS:
        raise PolicyViolation("claim with exactly one of booking code, IIN, QR or applicant id")
    return present[0][0], str(present[0][1])


def lookup(roster: Roster, method: str, value: str) -> BookedApplicant:
    """The booked applicant a claim names; UnknownApplicant if none."""
    if method == "iin":
        return roster.by_iin(value)
    if method == "applicant_id":
        return roster.by_applicant_id(value)
    return roster.by_booking_code(parse_qr_payload(value) if method == "qr" else value)


def claim_refusal(
    applicant: BookedApplicant,
    roster: Roster,
    book: SessionBook,
    cfg: CheckinConfig,
    *,
    room: str,
    now: datetime,
) -> Reason | None:
    """Why this applicant cannot start a check-in here and now, or None if they can.

    Order: facts about the kiosk and session first (wrong room, stale roster, session
    not open), then about the person (already in, out of attempts), then the clock.
    """
    session = roster.session
    if session.room != room:
        return Reason.WRONG_ROOM
    if now >= roster.expires_at:
        return Reason.ROSTER_EXPIRED
    if not book.is_open:
        return Reason.SESSION_NOT_OPEN
    if applicant.applicant_id in book.checked_in:
        return Reason.ALREADY_CHECKED_IN
    if book.attempts_used(applicant.applicant_id) >= cfg.max_attempts:
        return Reason.ATTEMPTS_EXHAUSTED
    if now < session.starts_at - timedelta(minutes=cfg.early_window_min):
        return Reason.TOO_EARLY
    if now > session.starts_at + timedelta(minutes=cfg.late_window_min):
        return Reason.TOO_LATE
    return None


__all__ = ["QR_PREFIX", "claim_refusal", "lookup", "one_claim", "parse_qr_payload"]
