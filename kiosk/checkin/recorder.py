"""From a finished attempt (or a refused claim) to a signed ``checkin`` record.

The state machine (`kiosk.checkin.flow`) decides *when* a check-in ends; this module is
what happens then, in the order the brief requires: match the captured frames against
the booked applicant (1:1 and 1:N), apply the policy (`attempt.decide`), build the record
body (scores, quality, timings; never an image or an embedding), sign and store it, and
only after the record exists release the door. No record, no entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kiosk.checkin.attempt import CaptureAttempt, decide, evidence
from kiosk.checkin.decision import CheckinDecision, Decision, Reason
from kiosk.checkin.liveness_gate import LivenessCheckerLike
from kiosk.checkin.lock import DoorLock
from kiosk.checkin.matcher import Matcher, MatchResult, TemplatePackMismatch
from kiosk.checkin.roster import BookedApplicant, Roster
from kiosk.checkin.session_book import SessionBook
from kiosk.config import KioskConfig
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.bodies import CheckinBody
from kiosk.protocol.canonical import format_ts

log = logging.getLogger(__name__)


class CheckinRecorder:
    """Concludes attempts and writes the door's ``checkin`` records for one session."""

    def __init__(
        self,
        ledger: LedgerStore,
        roster: Roster,
        book: SessionBook,
        door: DoorLock,
        matcher: Matcher,
        cfg: KioskConfig,
        *,
        room: str,
        clock: Callable[[], float],
        now: Callable[[], datetime],
    ) -> None:
        self.ledger, self.roster, self.book, self.door = ledger, roster, book, door
        self.matcher, self.cfg, self.room = matcher, cfg, room
        self._clock, self._now = clock, now
        self._warn_foreign_templates()

    def body(
        self,
        applicant: BookedApplicant | None,
        method: str,
        decision: Decision,
        reason: Reason,
        *,
        attempt: int,
    ) -> dict[str, Any]:
        """The fields every ``checkin`` record has, refusals at the claim included; the
        evidence fields of `CheckinBody` are added by `conclude` for a captured attempt."""
        s = self.roster.session
        return CheckinBody(
            applicant_id=applicant.applicant_id if applicant else None,
            session_id=s.session_id,
            roster_id=self.roster.roster_id,
            roster_version=self.roster.version,
            room=self.room,
            claim=method,
            decision=decision.value,
            reason=reason.value,
            attempt=attempt,
            max_attempts=self.cfg.checkin.max_attempts,
            pack_id=self.matcher.pack_id,
            threshold=self.matcher.threshold,
            score=None,
            at=format_ts(self._now()),
        ).to_dict()

    def conclude(
        self,
        att: CaptureAttempt,
        liveness: LivenessCheckerLike,
        timeout: Reason | None = None,
    ) -> tuple[dict[str, Any], Decision, Reason]:
        """Match, apply the policy, and build the record body for a finished attempt.

        `liveness` is the checker the attempt ran with (passed in, not kept, because the
        flow's checker may be swapped between attempts)."""
        t0 = time.perf_counter()
        match: MatchResult | None = None
        detail = ""
        if att.probe is not None:
            try:
                match = self.matcher.verify(att.good, att.applicant, self.roster)
            except TemplatePackMismatch as exc:
                detail = str(exc)
        match_ms = (time.perf_counter() - t0) * 1000
        thr = self.matcher.threshold
        decision, reason = decide(
            att, match, threshold=thr, timeout=timeout, no_template=bool(detail)
        )
        if reason == Reason.CAPTURE_TIMEOUT:
            detail = att.last_reason or "no_face"
        body = self.body(att.applicant, att.method, decision, reason, attempt=att.number)
        body.update(
            evidence(
                att,
                match,
                self.matcher,
                now=self._clock(),
                match_ms=match_ms,
                liveness_mode=self.cfg.liveness.mode,
                liveness_unavailable=None if liveness.available else liveness.unavailable_reason,
                timeout=timeout,
            ),
            detail=detail,
        )
        return body, decision, reason

    def record(
        self,
        applicant: BookedApplicant | None,
        body: dict[str, Any],
        decision: Decision,
        reason: Reason,
        attempt: int,
    ) -> CheckinDecision:
        """Sign and store the record first; only then open the door. Raises whatever the
        ledger raises, before anything else has happened."""
        # Strict on the kiosk: a body that drifted from the schema fails here, in tests,
        # rather than as an unreadable record at the centre.
        env = self.ledger.append("checkin", CheckinBody.from_dict(body).to_dict())
        self.book.apply(env)
        result = CheckinDecision(
            decision,
            reason,
            applicant.applicant_id if applicant else None,
            env.record.id,
            attempt,
            body.get("score"),
            self.matcher.threshold,
            str(body.get("detail", "")),
            body,
        )
        log.info(
            "checkin %s/%s applicant=%s attempt=%d record=%s",
            decision.value,
            reason.value,
            result.applicant_id,
            attempt,
            env.record.id,
        )
        if result.admits and applicant is not None:
            self.door.release_for(applicant.applicant_id, env.record.id)
        return result

    def _warn_foreign_templates(self) -> None:
        missing = [
            a.applicant_id for a in self.roster.applicants if self.matcher.templates_of(a) is None
        ]
        if missing:
            log.warning(
                "%d of %d applicants have no template for pack %s: they will go to a proctor",
                len(missing),
                len(self.roster.applicants),
                self.matcher.pack_id,
            )


__all__ = ["CheckinRecorder"]
