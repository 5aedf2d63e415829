"""Who has checked in, how many attempts each applicant used, and which refusals a proctor
may still override, for one exam session.

Why it is rebuilt from the ledger: the kiosk may restart mid-session (power cut, crash).
The signed ledger is the one durable truth, so replaying this session's records restores
"already checked in" and the attempt counters; a restart never gives an applicant fresh
attempts or lets them check in twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kiosk.checkin.decision import CLAIM_REFUSALS, Decision, Reason
from kiosk.errors import PolicyViolation
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.envelope import Envelope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A refused check-in a proctor may override."""

    record_id: str
    applicant_id: str | None
    decision: Decision
    reason: Reason


@dataclass
class SessionBook:
    session_id: str
    is_open: bool = False
    was_closed: bool = False
    opened_by: str | None = None
    checked_in: dict[str, str] = field(default_factory=dict)  # applicant -> admitting record
    attempts: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, Refusal] = field(default_factory=dict)  # record id -> refusal
    overridden: set[str] = field(default_factory=set)  # refused record ids already overridden
    overrides: int = 0
    decisions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_ledger(cls, ledger: LedgerStore, session_id: str) -> SessionBook:
        book = cls(session_id)
        n = 0
        for env in ledger.iter_envelopes():
            body = env.record.body
            if body.get("session_id") != session_id:
                continue
            book.apply(env)
            n += 1
        if n:
            log.info(
                "session %s restored from %d ledger records: open=%s, %d checked in",
                session_id,
                n,
                book.is_open,
                len(book.checked_in),
            )
        return book

    def apply(self, env: Envelope) -> None:
        """Update the book with one of this session's records (live or replayed)."""
        rtype, body = env.record.type, env.record.body
        if rtype == "session_open":
            self.is_open, self.opened_by = True, body.get("proctor_id")
        elif rtype == "session_close":
            self.is_open, self.was_closed = False, True
        elif rtype == "checkin":
            self._apply_checkin(env.record.id, body)
        elif rtype == "override":
            self.overrides += 1
            self.overridden.add(str(body.get("refused_record_id")))
            applicant = body.get("applicant_id")
            if applicant:
                self.checked_in[str(applicant)] = env.record.id

    def _apply_checkin(self, record_id: str, body: dict[str, Any]) -> None:
        try:
            decision, reason = Decision(body["decision"]), Reason(body["reason"])
        except (KeyError, ValueError):
            log.warning("checkin record %s has an unknown decision or reason", record_id)
            return
        self.decisions[decision.value] = self.decisions.get(decision.value, 0) + 1
        applicant = body.get("applicant_id")
        applicant_id = str(applicant) if applicant else None
        if applicant_id and reason not in CLAIM_REFUSALS:
            self.attempts[applicant_id] = max(
                self.attempts.get(applicant_id, 0), int(body.get("attempt", 0) or 0)
            )
        if decision.admits and applicant_id:
            self.checked_in[applicant_id] = record_id
        elif not decision.admits:
            self.refusals[record_id] = Refusal(record_id, applicant_id, decision, reason)

    def overridable(self, refused_record_id: str) -> Refusal:
        """The refusal a proctor wants to override, or PolicyViolation saying why not."""
        refusal = self.refusals.get(refused_record_id)
        if refusal is None:
            raise PolicyViolation(
                f"record {refused_record_id} is not a refused check-in of this session"
            )
        if refused_record_id in self.overridden:
            raise PolicyViolation(f"record {refused_record_id} is already overridden")
        if refusal.applicant_id is None:
            raise PolicyViolation("an unknown booking cannot be admitted by override")
        if refusal.applicant_id in self.checked_in:
            raise PolicyViolation(f"applicant {refusal.applicant_id} is already checked in")
        return refusal

    def attempts_used(self, applicant_id: str) -> int:
        return self.attempts.get(applicant_id, 0)

    def summary(self, booked: int) -> dict[str, int]:
        """Counts for the ``session_close`` record."""
        return {
            "booked": booked,
            "checked_in": len(self.checked_in),
            "no_show": max(0, booked - len(self.checked_in)),
            "overrides": self.overrides,
            "accepted": self.decisions.get(Decision.ACCEPTED.value, 0),
            "rejected": self.decisions.get(Decision.REJECTED.value, 0),
            "needs_proctor": self.decisions.get(Decision.NEEDS_PROCTOR.value, 0),
        }


__all__ = ["Refusal", "SessionBook"]
