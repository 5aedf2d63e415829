"""The proctor's side of a session: sign-in, open/close, and overrides, each a signed record.

Why records and not just log lines: the brief's failure was people getting into exams
with someone's help. Every human exception (an override, a lockout from PIN guessing)
must reach the centre as a signed, chained record naming the proctor and the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kiosk.checkin.decision import Decision
from kiosk.checkin.overrides import OverrideRequest
from kiosk.checkin.proctor import ProctorAccount, ProctorDirectory, ProctorRole, require_role
from kiosk.checkin.roster import Roster
from kiosk.checkin.session_book import Refusal, SessionBook
from kiosk.errors import PolicyViolation, ProctorLockedOut
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.bodies import (
    PROCTOR_LOCKED_OUT_EVENT,
    BodyModel,
    OverrideBody,
    ProctorLockedOutBody,
    SessionCloseBody,
    SessionOpenBody,
)
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.envelope import Envelope

log = logging.getLogger(__name__)


class ProctorDesk:
    """Writes the session's proctor records and keeps the `SessionBook` in step."""

    def __init__(
        self,
        ledger: LedgerStore,
        roster: Roster,
        book: SessionBook,
        *,
        room: str,
        now: Callable[[], datetime],
        settings: dict[str, Any],
    ) -> None:
        self.ledger, self.roster, self.book = ledger, roster, book
        self.room, self._now = room, now
        self._settings = settings  # pack, threshold, liveness mode: stated in session_open

    def _at(self) -> str:
        return format_ts(self._now())

    def _append(self, body: BodyModel) -> Envelope:
        env = self.ledger.append(body.record_type, body.to_dict())
        self.book.apply(env)
        return env

    def authenticate(
        self, directory: ProctorDirectory, proctor_id: str, pin: str
    ) -> ProctorAccount:
        """Check a PIN; a lockout also becomes a signed ``device_event``, so PIN guessing at
        the door is visible at the centre, not only in a local log."""
        try:
            return directory.authenticate(proctor_id, pin, now=self._now())
        except ProctorLockedOut as exc:
            self._append(
                ProctorLockedOutBody(
                    event=PROCTOR_LOCKED_OUT_EVENT,
                    proctor_id=proctor_id,
                    session_id=self.roster.session.session_id,
                    detail=str(exc),
                    at=self._at(),
                )
            )
            raise

    def open_session(self, account: ProctorAccount) -> Envelope:
        require_role(account, ProctorRole.PROCTOR)
        s = self.roster.session
        if self.book.is_open:
            raise PolicyViolation(f"session {s.session_id} is already open")
        if s.room != self.room:
            log.warning("opening session for room %s on a kiosk in room %s", s.room, self.room)
        return self._append(
            SessionOpenBody(
                session_id=s.session_id,
                roster_id=self.roster.roster_id,
                roster_version=self.roster.version,
                room=self.room,
                kind=s.kind,
                proctor_id=account.proctor_id,
                booked=len(self.roster.applicants),
                at=self._at(),
                **self._settings,
            )
        )

    def close_session(self, account: ProctorAccount) -> Envelope:
        require_role(account, ProctorRole.PROCTOR)
        if not self.book.is_open:
            raise PolicyViolation(f"session {self.roster.session.session_id} is not open")
        return self._append(
            SessionCloseBody(
                session_id=self.roster.session.session_id,
                room=self.room,
                proctor_id=account.proctor_id,
                at=self._at(),
                **self.book.summary(len(self.roster.applicants)),
            )
        )

    def override(
        self, account: ProctorAccount, request: OverrideRequest
    ) -> tuple[Envelope, Refusal]:
        """Admit a refused applicant: the record cites the refused record, the proctor, the
        reason code and the note (the note's presence is enforced by `OverrideRequest`)."""
        require_role(account, ProctorRole.PROCTOR)
        if request.proctor_id != account.proctor_id:
            raise PolicyViolation("an override must be made by the signed-in proctor")
        refusal = self.book.overridable(request.refused_record_id)
        env = self._append(
            OverrideBody(
                **request.to_body(),
                applicant_id=refusal.applicant_id,
                session_id=self.roster.session.session_id,
                room=self.room,
                role=account.role.value,
                refused_decision=refusal.decision.value,
                refused_reason=refusal.reason.value,
                decision=Decision.ACCEPTED_BY_OVERRIDE.value,
                at=self._at(),
            )
        )
        log.warning(
            "override by %s for %s (%s): record %s",
            account.proctor_id,
            refusal.applicant_id,
            request.reason.value,
            env.record.id,
        )
        return env, refusal


__all__ = ["ProctorDesk"]
