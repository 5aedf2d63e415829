"""The door's check-in state machine, with no Qt in it (the UI only shows `FlowState`).

(Over 400 lines on purpose: one state machine whose transitions read best together; the
decision policy, recording, next steps and the proctor desk are attempt.py, recorder.py,
next_step.py and desk.py.)

    IDLE ─claim─► CLAIMED ─face seen─► CAPTURE ─N good frames─► LIVENESS ─verdict─►
         MATCH ─► DECISION ─shown─► IDLE

Every waiting state has a deadline on an injectable monotonic clock and leaves with a
reason code, so tests are deterministic and the UI can show a countdown. Every decision,
including refusals at the claim, is a signed ``checkin`` record written *before* the door
opens: no record, no entry. The record carries scores, quality and timings, never the
image or an embedding.

Refusal policy (fail closed): anything the kiosk cannot settle by itself (unknown
booking, wrong room, outside the session window, already checked in, attempts used up,
no liveness verdict, an ambiguous 1:N result) goes to a proctor; a clear non-match, a
stand-in who matches another booked applicant, failed liveness or a capture time-out is
rejected and uses one of the applicant's `max_attempts`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kiosk.checkin.attempt import CaptureAttempt
from kiosk.checkin.claims import claim_refusal, lookup, one_claim
from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.desk import ProctorDesk
from kiosk.checkin.liveness_gate import (
    FailClosedLiveness,
    LivenessCheckerLike,
)
from kiosk.checkin.lock import DoorLock
from kiosk.checkin.matcher import Matcher, TemplatePackMismatch
from kiosk.checkin.next_step import decision_state
from kiosk.checkin.overrides import OverrideRequest
from kiosk.checkin.proctor import ProctorAccount, ProctorDirectory
from kiosk.checkin.qr import BookingQrReader
from kiosk.checkin.recorder import CheckinRecorder
from kiosk.checkin.roster import BookedApplicant, Roster
from kiosk.checkin.session_book import SessionBook
from kiosk.checkin.states import ApplicantView, FlowState, NextStep, StateName, applicant_view
from kiosk.config import KioskConfig
from kiosk.errors import PolicyViolation, UnknownApplicant
from kiosk.ledger.store import LedgerStore
from kiosk.protocol.envelope import Envelope
from kiosk.vision.identity_continuity import IdentitySampler
from kiosk.vision.pipeline import FaceEngine, FaceObservation, FrameAnalysis

log = logging.getLogger(__name__)


class CheckinFlow:
    """Drives one kiosk door for one roster's session. Call from one worker thread; the
    public methods are also guarded by a lock so a UI timer may call `tick` safely."""

    def __init__(
        self,
        engine: FaceEngine,
        roster: Roster,
        ledger: LedgerStore,
        matcher: Matcher,
        liveness: LivenessCheckerLike | None,
        cfg: KioskConfig,
        *,
        room: str,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | datetime | None = None,
        door_lock: DoorLock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if matcher.pack_id != engine.pack_id:
            raise TemplatePackMismatch(
                f"matcher is for pack {matcher.pack_id}, engine runs {engine.pack_id}"
            )
        self.engine, self.roster, self.ledger, self.matcher = engine, roster, ledger, matcher
        self.liveness = liveness if liveness is not None else FailClosedLiveness()
        self.cfg, self.room, self._clock = cfg, room, clock
        if isinstance(now, datetime):
            fixed = now
            self._now: Callable[[], datetime] = lambda: fixed
        else:
            self._now = now or (lambda: datetime.now(UTC))
        self.door_lock = door_lock or DoorLock(ledger)
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[FlowState], None]] = []
        self._qr = BookingQrReader(cfg.checkin.qr_repeat_ignore_s, clock)
        self._qr_claim: str | None = None  # the QR payload of the claim in progress
        self._last_claim: tuple[str, str] | None = None  # (method, value): for try-again
        self._step: tuple[str | None, float | None] = (None, None)  # liveness prompt, deadline
        self._attempt: CaptureAttempt | None = None
        self.book = SessionBook.from_ledger(ledger, roster.session.session_id)
        settings = {
            "pack_id": matcher.pack_id,
            "threshold": matcher.threshold,
            "liveness_mode": cfg.liveness.mode,
        }
        self.desk = ProctorDesk(
            ledger, roster, self.book, room=room, now=self._now, settings=settings
        )
        self.recorder = CheckinRecorder(
            ledger,
            roster,
            self.book,
            self.door_lock,
            matcher,
            cfg,
            room=room,
            clock=clock,
            now=self._now,
        )
        self._state = FlowState(StateName.IDLE)

    # -- observing ---------------------------------------------------------------------

    @property
    def state(self) -> FlowState:
        return self._state

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock every `FlowState.deadline` is measured on. The screen's
        countdown must read this same clock (a test's fake clock, or `time.monotonic`),
        or it would disagree with the deadlines the flow enforces."""
        return self._clock

    def now_monotonic(self) -> float:
        """The current reading of `clock`: what a deadline is compared with."""
        return self._clock()

    def subscribe(self, callback: Callable[[FlowState], None]) -> Callable[[], None]:
        """Call `callback(state)` on every change; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _set(self, state: FlowState) -> FlowState:
        prev, self._state = self._state, state
        if prev.name != state.name:
            log.info("flow %s -> %s (%s)", prev.name, state.name, state.reason)
            if prev.name == StateName.DECISION:
                self._qr.decision_cleared()
        for callback in list(self._subscribers):
            try:
                callback(state)
            except Exception:  # a broken screen must not break the door
                log.exception("flow subscriber failed")
        return state

    # -- claims -------------------------------------------------------------------------

    def claim(
        self,
        *,
        booking_code: str | None = None,
        iin: str | None = None,
        qr_payload: str | None = None,
        applicant_id: str | None = None,
    ) -> FlowState:
        """Start a check-in for whoever the booking code / IIN / QR names (exactly one)."""
        method, value = one_claim(
            booking_code=booking_code, iin=iin, qr=qr_payload, applicant_id=applicant_id
        )
        with self._lock:
            if method == "qr" and self._qr.is_repeat(value):
                log.info("booking QR still in view after its decision: ignored")
                return self._state
            if self._state.hold:
                # The screen waits for a proctor; the next person's QR must not wipe it.
                log.info("claim while a result waits for a proctor: ignored")
                return self._state
            return self._start(method, value)

    def _start(self, method: str, value: str) -> FlowState:
        if self._state.name == StateName.DECISION:
            self._set(FlowState(StateName.IDLE, Reason.DECISION_SHOWN))
        if self._state.name != StateName.IDLE:
            raise PolicyViolation(f"a check-in is already in progress ({self._state.name})")
        self._qr_claim = value if method == "qr" else None
        self._last_claim = (method, value)
        try:
            applicant = lookup(self.roster, method, value)
        except UnknownApplicant as exc:
            log.info("claim refused: %s", exc)
            return self._refuse_claim(None, method, Reason.UNKNOWN_BOOKING)
        refusal = claim_refusal(
            applicant, self.roster, self.book, self.cfg.checkin, room=self.room, now=self._now()
        )
        if refusal is not None:
            return self._refuse_claim(applicant, method, refusal)
        used = self.book.attempts_used(applicant.applicant_id)
        self._attempt = CaptureAttempt(
            applicant,
            method,
            used + 1,
            self._clock(),
            sampler=IdentitySampler(self.cfg.checkin.identity_sample_every),
        )
        return self._set(
            FlowState(
                StateName.CLAIMED,
                Reason.CLAIMED,
                "look_at_camera",
                applicant_view(applicant),
                0.0,
                self._clock() + self.cfg.checkin.claim_timeout_s,
                attempt=used + 1,
            )
        )

    def retry(self) -> FlowState:
        """The applicant taps "Try again" on a refusal that offers it: a new attempt for
        the same claim (same method, so the record says how they claimed)."""
        with self._lock:
            s = self._state
            if s.next_step != NextStep.TRY_AGAIN or self._last_claim is None:
                raise PolicyViolation("there is no attempt to try again")
            return self._start(*self._last_claim)

    def call_staff(self) -> FlowState:
        """The applicant asked for help: a result on screen stays until a proctor comes
        (nothing is recorded; the proctor's own actions are)."""
        with self._lock:
            s = self._state
            if s.name == StateName.DECISION and not s.hold:
                return self._set(replace(s, hold=True, deadline=None))
            return s

    def acknowledge(self) -> FlowState:
        """A signed-in proctor has seen the held result: the kiosk is free again."""
        with self._lock:
            if self._state.name == StateName.DECISION:
                return self._set(FlowState(StateName.IDLE, Reason.DECISION_SHOWN))
            return self._state

    def claim_from_frame(self, frame_bgr: np.ndarray) -> FlowState | None:
        """Read a booking QR from a camera frame and claim with it; None if no QR is read
        or it is the just-decided booking still held up (see `kiosk.checkin.qr`)."""
        text = self._qr.read(frame_bgr)
        if text is None:
            return None
        with self._lock:
            if self._qr.is_repeat(text):
                return None
            return self.claim(qr_payload=text)

    def _refuse_claim(
        self, applicant: BookedApplicant | None, method: str, reason: Reason
    ) -> FlowState:
        used = self.book.attempts_used(applicant.applicant_id) if applicant else 0
        body = self.recorder.body(applicant, method, Decision.NEEDS_PROCTOR, reason, attempt=used)
        return self._finish(applicant, body, Decision.NEEDS_PROCTOR, reason, used)

    # -- frames -------------------------------------------------------------------------

    def on_frame(self, frame_bgr: np.ndarray, analysis: FrameAnalysis | None = None) -> FlowState:
        """Feed one camera frame (and, if the caller already ran it, its analysis)."""
        with self._lock:
            self._check_deadline()
            name = self._state.name
            if name not in (StateName.CLAIMED, StateName.CAPTURE, StateName.LIVENESS):
                return self._state
            if analysis is None:
                analysis = self.engine.analyze(frame_bgr, embed="none")
            att = self._attempt
            if att is None:  # cannot happen: every capturing state sets it
                return self._set(FlowState(StateName.IDLE, Reason.CANCELLED))
            att.frames_seen += 1
            att.engine_ms.append(sum(analysis.timings_ms.values()))
            obs = analysis.primary
            if name == StateName.CLAIMED:
                if obs is None:
                    return self._state
                att.t_capture = self._clock()
                self._set(
                    replace(
                        self._state,
                        name=StateName.CAPTURE,
                        reason=Reason.FACE_SEEN,
                        deadline=att.t_capture + self.cfg.checkin.capture_timeout_s,
                    )
                )
            if self._state.name == StateName.CAPTURE:
                return self._capture(att, obs)
            return self._liveness(att, obs, frame_bgr)

    def _embed(self, att: CaptureAttempt, observations: list[FaceObservation]) -> None:
        """Embed the frames a decision uses (lazily: `analyze` left them unembedded)."""
        t = time.perf_counter()
        att.embeddings += self.engine.embed_observations(observations)
        att.embed_ms += (time.perf_counter() - t) * 1000

    def _capture(self, att: CaptureAttempt, obs: FaceObservation | None) -> FlowState:
        prompt = "no_face" if obs is None else obs.quality.prompt
        if obs is not None and obs.quality.ok:
            att.good.append(obs)
        else:
            att.last_reason = prompt
            att.reasons[prompt or "no_face"] += 1
        need = self.matcher.frames_to_fuse
        if len(att.good) < need:
            return self._set(replace(self._state, prompt=prompt, progress=len(att.good) / need))
        # Only the frames the matcher fuses are embedded (the best `need` by quality).
        best = sorted(att.good, key=lambda o: o.quality.score, reverse=True)[:need]
        self._embed(att, best)
        att.probe = self.matcher.fuse(att.good)
        att.t_liveness = self._clock()
        if not self.liveness.available or self.cfg.liveness.mode == "off-requires-proctor":
            return self._decide(att)
        att.liveness = self.liveness.start(self._rng)
        self._step = (None, None)
        return self._set(
            replace(
                self._state,
                name=StateName.LIVENESS,
                reason=Reason.FRAMES_COLLECTED,
                prompt=None,
                progress=0.0,
                deadline=att.t_liveness + self.cfg.checkin.liveness_timeout_s,
            )
        )

    def _identity_sample(self, att: CaptureAttempt, obs: FaceObservation | None) -> None:
        """Embed this challenge frame if it is an identity sample (IdentitySampler: the
        first face after each prompt change, the face after it, and every
        `identity_sample_every`-th face). The liveness session and the continuity check
        below see embeddings on those frames only."""
        if obs is None:
            return
        att.liveness_frames += 1
        if att.sampler.wants(att.liveness_prompt, asked=att.sample_wanted):
            self._embed(att, [obs])

    def _liveness(
        self, att: CaptureAttempt, obs: FaceObservation | None, frame: np.ndarray
    ) -> FlowState:
        if att.liveness is None:  # cannot happen: LIVENESS always starts a session
            return self._decide(att)
        self._identity_sample(att, obs)
        # Frames without a face are fed too: a face that leaves the view mid-challenge
        # (a photo swapped out) is itself a liveness cue.
        step = att.liveness.feed(obs, frame, self._clock())
        att.liveness_prompt, att.sample_wanted = step.prompt, step.wants_sample
        # The face doing the challenge must be the face that was captured, or a photo
        # could be captured and a live accomplice do the head turns. Only samples taken
        # facing the camera (the session's dense-landmark pose, `step.facing`: the
        # 5-point pose reads a 30° turn as ~12°) are held to the match threshold: a
        # turned head legitimately scores lower.
        sample = obs.embedding if obs is not None else None
        if step.facing and sample is not None and att.probe is not None:
            c = float(np.dot(sample, att.probe))
            att.continuity = c if att.continuity is None else min(att.continuity, c)
        if step.verdict is None:
            prompt = step.prompt if obs is not None else "no_face"
            return self._set(
                replace(
                    self._state,
                    prompt=prompt,
                    progress=step.progress,
                    step_deadline=self._step_deadline(step.prompt),
                )
            )
        att.verdict = step.verdict
        return self._decide(att)

    def _step_deadline(self, prompt: str | None) -> float | None:
        """Each challenge step shows its own countdown (the whole challenge's 15 s read
        as "take your time" while a step gave up after 4 s). A new prompt starts a new
        step; "no_face" frames keep the step that was running."""
        if prompt is None or prompt == "no_face":
            return self._step[1]
        if prompt != self._step[0]:
            self._step = (prompt, self._clock() + self.cfg.liveness.step_timeout_s)
        return self._step[1]

    def report_stream_events(self, bodies: list[dict[str, Any]]) -> None:
        """The camera stream guard saw something (frozen, replayed, noiseless or impossibly
        timed frames): each event is a signed `device_event`, and an attempt in progress
        can no longer be accepted by the kiosk alone (see attempt.decide)."""
        with self._lock:
            for body in bodies:
                self.ledger.append("device_event", body)
                if self._attempt is not None:
                    self._attempt.stream_suspicions.append(str(body.get("kind", "unknown")))

    # -- deadlines ----------------------------------------------------------------------

    def tick(self) -> FlowState:
        """Apply any expired deadline; call from a UI timer so time-outs happen without frames."""
        with self._lock:
            self._check_deadline()
            return self._state

    def _check_deadline(self) -> None:
        s = self._state
        if s.deadline is None or self._clock() < s.deadline:
            return
        att = self._attempt
        if s.name == StateName.CLAIMED:
            self._attempt = None
            self._set(FlowState(StateName.IDLE, Reason.CLAIM_TIMEOUT))
        elif s.name == StateName.CAPTURE and att is not None:
            self._decide(att, timeout=Reason.CAPTURE_TIMEOUT)
        elif s.name == StateName.LIVENESS and att is not None:
            self._decide(att, timeout=Reason.LIVENESS_TIMEOUT)
        elif s.name == StateName.DECISION:
            self._set(FlowState(StateName.IDLE, Reason.DECISION_SHOWN))

    def cancel(self) -> FlowState:
        """The applicant (or proctor) aborts. After a face was seen it uses an attempt and is
        recorded, so cancelling cannot be used to probe the matcher for free."""
        with self._lock:
            s, att = self._state, self._attempt
            if s.name in (StateName.CAPTURE, StateName.LIVENESS) and att is not None:
                return self._decide(att, timeout=Reason.CANCELLED)
            if s.name in (StateName.CLAIMED, StateName.DECISION):
                self._attempt = None
                return self._set(FlowState(StateName.IDLE, Reason.CANCELLED))
            return s

    # -- decision -----------------------------------------------------------------------

    def _decide(self, att: CaptureAttempt, timeout: Reason | None = None) -> FlowState:
        self._set(replace(self._state, name=StateName.MATCH, prompt=None, deadline=None))
        body, decision, reason = self.recorder.conclude(att, self.liveness, timeout)
        self._attempt = None
        return self._finish(att.applicant, body, decision, reason, att.number)

    def _finish(
        self,
        applicant: BookedApplicant | None,
        body: dict[str, Any],
        decision: Decision,
        reason: Reason,
        attempt: int,
    ) -> FlowState:
        """Record first (`CheckinRecorder.record` signs, then opens the door); only then
        show the decision. A failed write leaves the door idle and closed."""
        try:
            result = self.recorder.record(applicant, body, decision, reason, attempt)
        except Exception:
            self._attempt = None
            self._set(FlowState(StateName.IDLE, reason))
            raise
        self._qr.decided(self._qr_claim)
        used = self.book.attempts_used(applicant.applicant_id) if applicant else None
        return self._set(
            decision_state(
                result,
                applicant_view(applicant) if applicant else None,
                attempt,
                attempts_used=used,
                roster=self.roster,
                cfg=self.cfg.checkin,
                now=self._clock(),
            )
        )

    # -- proctor actions ----------------------------------------------------------------

    def authenticate(
        self, directory: ProctorDirectory, proctor_id: str, pin: str
    ) -> ProctorAccount:
        """Check a proctor's PIN; a lockout is recorded in the ledger (see `ProctorDesk`)."""
        with self._lock:
            return self.desk.authenticate(directory, proctor_id, pin)

    def open_session(self, account: ProctorAccount) -> Envelope:
        with self._lock:
            return self.desk.open_session(account)

    def close_session(self, account: ProctorAccount) -> Envelope:
        """Close the session (an attempt in progress is cancelled and recorded first)."""
        with self._lock:
            if self._state.name not in (StateName.IDLE, StateName.DECISION):
                self.cancel()
            env = self.desk.close_session(account)
            self._set(FlowState(StateName.IDLE, Reason.SESSION_NOT_OPEN))
            return env

    def override(self, account: ProctorAccount, request: OverrideRequest) -> Envelope:
        """Admit an applicant the kiosk refused; writes a signed ``override`` record and
        opens the door. The decision on screen, if it is that refusal, turns into
        accepted-by-override."""
        with self._lock:
            env, refusal = self.desk.override(account, request)
            if refusal.applicant_id:
                self.door_lock.release_for(refusal.applicant_id, env.record.id)
            s = self._state
            if s.decision is not None and s.decision.record_id == refusal.record_id:
                turned = replace(
                    s.decision, decision=Decision.ACCEPTED_BY_OVERRIDE, body=env.record.body
                )
                # The held screen now says "go in", for as long as any admission does.
                self._set(
                    replace(
                        s,
                        reason=Reason.OVERRIDDEN,
                        decision=turned,
                        next_step=NextStep.GO_IN,
                        hold=False,
                        deadline=self._clock() + self.cfg.checkin.decision_display_s,
                    )
                )
            return env


__all__ = [
    "ApplicantView",
    "CheckinFlow",
    "FailClosedLiveness",
    "FlowState",
    "StateName",
]
