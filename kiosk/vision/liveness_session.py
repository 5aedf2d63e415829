"""One applicant's liveness session: each analysed frame in the order that makes it
safe — landmarks, identity, challenge, then the decision (timing, rigidity, passive
cues). `LivenessChecker.start` (liveness.py) makes one; the parts it orders are
challenge.py, identity_continuity.py, rigidity.py, liveness_cues.py and
liveness_passive.py. Holds no images.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kiosk.errors import KioskError
from kiosk.vision.challenge import ChallengeTracker, FaceSignals, frontal_for_baseline
from kiosk.vision.identity_continuity import IdentityContinuity
from kiosk.vision.landmark_cues import eye_blink, head_pose, mouth_open
from kiosk.vision.liveness_cues import PassiveEvidence
from kiosk.vision.liveness_prompts import TURNS, Prompt, draw_more
from kiosk.vision.rigidity import TurnRigidity, flattest

if TYPE_CHECKING:
    from collections.abc import Callable

    from kiosk.config import LivenessConfig
    from kiosk.vision.landmarks import DenseLandmarker
    from kiosk.vision.liveness_pad import PadModel
    from kiosk.vision.liveness_passive import PassiveAssessment
    from kiosk.vision.pipeline import FaceObservation

log = logging.getLogger(__name__)

_PAD_EVERY = 3  # the PAD model (when present) runs on every n-th frame
_MIN_PRESENCE = 0.5  # the landmark model's own face-presence score
_TURN_FRAMES = 5  # turned frames kept per turn step for the rigidity fit


@dataclass(frozen=True)
class LivenessVerdict:
    """The outcome. `passed` None means "cannot decide": the flow sends to a proctor."""

    passed: bool | None
    score: float  # combined passive live-likelihood 0..1 (0 when not computed)
    reason: str  # "live" or a reason code, e.g. "timeout:turn_left", "not_3d:plane"
    cues: dict[str, float]


@dataclass(frozen=True)
class LivenessStep:
    """What to tell the applicant now; `verdict` is set once the session is over."""

    prompt: str | None  # a `Prompt` (a str), or None when the session is over
    progress: float  # 0..1
    verdict: LivenessVerdict | None = None
    # The head faced the camera on the latest dense-landmark frame (relative to the
    # person's baseline; every identity sample gets its own landmarks, so on a sample
    # frame this is that frame's): the flow holds only such samples to the match
    # threshold, exactly the ones the session compared.
    facing: bool = True
    # Embed the next face even if the sampler would not: the session waits for an
    # identity sample facing the camera after the last step.
    wants_sample: bool = False


class SessionChecker(Protocol):
    """What a session needs from `liveness.LivenessChecker` (which makes sessions)."""

    cfg: LivenessConfig
    available: bool
    unavailable_reason: str
    landmarker: DenseLandmarker | None
    pad_model: PadModel | None
    embed_similarity: Callable[[np.ndarray, np.ndarray], float]

    def assess_passive(
        self, measures: dict[str, float], *, mode: str = ""
    ) -> PassiveAssessment: ...


class LivenessSession:
    """One applicant's liveness check: feed every analysed frame until `verdict` is set.

    Holds no images: each frame is measured when fed and then dropped (the dense points
    of the frontal reference and of a few turned frames stay until the session ends).
    """

    def __init__(
        self,
        checker: SessionChecker,
        challenge: tuple[Prompt, ...],
        rng: random.Random | None = None,
    ) -> None:
        self.checker = checker
        self.cfg = checker.cfg
        self.challenge = challenge
        self._rng = rng or random.SystemRandom()  # draws the extra steps, if any
        self.extended = False
        self.mode = self.cfg.mode
        self.evidence = PassiveEvidence()
        self.tracker = ChallengeTracker(self.cfg, challenge)
        self._start_t: float | None = None
        self._last_face_t: float | None = None
        self._last_landmark_t = -math.inf
        self.rigidity = TurnRigidity(_TURN_FRAMES)
        self.identity = IdentityContinuity(
            self.cfg.identity_min_cosine,
            self.cfg.identity_step_min_cosine,
            checker.embed_similarity,
        )
        # Whether the head faced the camera on the last dense-landmark frame (relative to
        # the baseline, the return's own rule); the capture before the challenge took
        # frontal faces only, so True until a landmark frame says otherwise.
        self._facing = True
        self._final_wait_t: float | None = None
        self._frames = self._landmark_frames = 0
        self._landmark_ms: list[float] = []
        self._yaws: list[float] = []
        self._pitches: list[float] = []
        self._pad: list[float] = []
        self._result: LivenessStep | None = None
        if not checker.available:
            self._result = self._finish(None, checker.unavailable_reason)

    @property
    def verdict(self) -> LivenessVerdict | None:
        return self._result.verdict if self._result else None

    def feed(self, obs: FaceObservation | None, frame_bgr: np.ndarray, t: float) -> LivenessStep:
        """Take one analysed frame (obs None: no face found in it) at time `t` seconds."""
        if self._result is not None:
            return self._result
        if self._start_t is None:
            self._start_t = self._last_face_t = t
            self.tracker.start(t)
        assert self._last_face_t is not None
        # a step's reaction is timed from the first frame fed after its prompt appeared,
        # whatever that frame holds: hiding the face while a clip is picked must not
        # stop the clock
        self.tracker.note_frame(t)
        # The flow may skip frames without a face instead of feeding None: either way a
        # gap longer than max_face_gap_s means the face left (or was swapped out of) view.
        if t - self._last_face_t > self.cfg.max_face_gap_s:
            return self._finish(False, "face_lost")
        if obs is None:
            return self._timeout_or(t)
        self._last_face_t = t
        self._frames += 1
        try:
            self._measure(obs, frame_bgr)
            sample = obs.embedding
            final = self.tracker.phase in ("return", "done")  # before this frame moves it
            signals = None
            # an identity sample gets its own landmarks: whether it faces the camera must
            # be read on that very frame, not on the last landmark frame before it
            due = (t - self._last_landmark_t) * 1000 >= self.cfg.landmark_interval_ms
            if sample is not None or due:
                self._last_landmark_t = t
                signals = self._landmarks(obs, frame_bgr)
            if sample is not None and self.identity.changed(
                sample, self._frames, facing=self._facing, final=final
            ):
                return self._finish(False, "identity_changed")
            if signals is not None:
                self._challenge_frame(*signals, t)
        except KioskError:
            raise
        except Exception as exc:  # a cue crashing must not let anyone through
            log.exception("liveness cue failed")
            return self._finish(None, f"cue_error:{type(exc).__name__}")
        if self._result is not None:
            return self._result
        if self.tracker.phase == "done":
            if self.mode == "passive" and t - self._start_t < self.cfg.passive_duration_s:
                return LivenessStep(Prompt.HOLD_STILL, 0.5, facing=self._facing)
            if self.challenge and not self.identity.final_sample:
                return self._ask_final_sample(t)
            return self._decide(t)
        return self._timeout_or(t)

    def live_cues(self) -> dict[str, float]:
        """Current raw cue values (technician calibration mode shows these live)."""
        measures = self.evidence.measures()
        measures["pad_model"] = float(np.mean(self._pad)) if self._pad else float("nan")
        measures["identity_min_cos"] = self.identity.min_cos
        measures["identity_min_step_cos"] = self.identity.min_step_cos
        return measures

    # ------------------------------------------------------------ internals

    def _measure(self, obs: FaceObservation, frame_bgr: np.ndarray) -> None:
        self.evidence.add(frame_bgr, obs.box, obs.landmarks)
        pad = self.checker.pad_model
        if pad is not None and self._frames % _PAD_EVERY == 1:
            value = pad.infer(frame_bgr, obs.box)
            if not math.isnan(value):
                self._pad.append(value)

    def _landmarks(
        self, obs: FaceObservation, frame_bgr: np.ndarray
    ) -> tuple[FaceSignals, np.ndarray] | None:
        """Dense landmarks of this frame → its signals (None: no usable face mesh), and
        whether the head faces the camera on it (`_facing`)."""
        landmarker = self.checker.landmarker
        assert landmarker is not None  # an unavailable checker never feeds
        started = time.perf_counter()
        dense = landmarker.infer(frame_bgr, obs.box, obs.landmarks)
        self._landmark_ms.append((time.perf_counter() - started) * 1000)
        if dense.presence < _MIN_PRESENCE:
            self._facing = False  # no pose: not a frame to hold an identity to
            return None
        self._landmark_frames += 1
        pose = head_pose(dense.points, landmarker.canonical_mesh)
        self._yaws.append(pose.yaw)
        self._pitches.append(pose.pitch)
        base, cfg = self.tracker.base, self.cfg
        if self.tracker.phase == "baseline":  # no baseline yet: the baseline's own rule
            self._facing = frontal_for_baseline(pose.yaw, pose.pitch, cfg.turn_deg)
        else:
            self._facing = (
                abs(pose.yaw - base.yaw) < cfg.turn_deg / 2
                and abs(pose.pitch - base.pitch) < cfg.pitch_deg
            )
        signals = FaceSignals(
            pose.yaw, pose.pitch, eye_blink(dense, landmarker.canonical_mesh), mouth_open(dense)
        )
        return signals, dense.points

    def _challenge_frame(self, signals: FaceSignals, points: np.ndarray, t: float) -> None:
        """Signals → the challenge; rigidity at the end of each turn."""
        tracker = self.tracker
        was_baseline = tracker.phase == "baseline"
        if tracker.phase == "step" and tracker.prompt in TURNS:
            if abs(signals.yaw - tracker.base.yaw) >= 0.8 * self.cfg.turn_deg:
                self.rigidity.add_turned(points)
        elif was_baseline:
            self.rigidity.reference = points
        event = tracker.feed(signals, t)
        if event.failed:
            self._finish(False, event.failed)
        elif event.step_done in TURNS:
            self.rigidity.turn_done()
        if event.phase_changed:
            self.rigidity.clear_turned()

    def _extend(self, t: float) -> LivenessStep:
        """Too slow on average over three steps to call: a person's reaction times vary
        from step to step (one slow start is common), a clip picked per prompt is slow on
        every step. More steps, and the mean over all of them, tell the two apart far
        better than a looser limit on three (docs/LIVENESS.md, "Slow reactions")."""
        more = draw_more(self._rng, self.cfg.reaction_extra_steps, self.challenge[-1])
        self.challenge = (*self.challenge, *more)
        self.tracker.extend(more, t)
        self.extended = True
        # the new last step needs its own facing identity sample after it
        self.identity.final_sample = False
        self._final_wait_t = None
        self.rigidity.clear_turned()
        log.info("liveness: slow reactions, %d more steps: %s", len(more), ",".join(more))
        return LivenessStep(self.tracker.prompt, self.tracker.progress, facing=self._facing)

    def _ask_final_sample(self, t: float) -> LivenessStep:
        """The steps are done but no identity sample was taken facing the camera since
        the last one (its transition sample came while the head was still turned): a
        new prompt and `wants_sample` make the flow embed every face until one faces the
        camera, so a swap during the last step cannot go unchecked."""
        if self._final_wait_t is None:
            self._final_wait_t = t
        elif t - self._final_wait_t > self.cfg.step_timeout_s:
            return self._finish(None, "identity_unavailable")
        return LivenessStep(
            Prompt.HOLD_STILL, self.tracker.progress, facing=self._facing, wants_sample=True
        )

    def _timeout_or(self, t: float) -> LivenessStep:
        if self.tracker.timed_out(t):
            return self._finish(False, f"timeout:{self.tracker.prompt}")
        return LivenessStep(self.tracker.prompt, self.tracker.progress, facing=self._facing)

    def _cues(self) -> dict[str, float]:
        cues = self.live_cues()
        best = self.rigidity.best
        cues.update(
            frames=float(self._frames),
            landmark_frames=float(self._landmark_frames),
            landmark_ms=float(np.mean(self._landmark_ms)) if self._landmark_ms else math.nan,
            wrong_moves=float(self.tracker.wrong_moves),
            yaw_range=float(np.ptp(self._yaws)) if self._yaws else 0.0,
            pitch_range=float(np.ptp(self._pitches)) if self._pitches else 0.0,
            reaction_s=self.tracker.mean_reaction_s(),
            reaction_min_s=min(self.tracker.reactions_s, default=math.nan),
            reaction_max_s=max(self.tracker.reactions_s, default=math.nan),
            reaction_steps=float(len(self.tracker.reactions_s)),
            reaction_extended=float(self.extended),
            challenge_s=(
                self.tracker.finished_t - self.tracker.started_t
                if self.tracker.finished_t is not None
                else math.nan
            ),
            rigid_margin=best["margin"] if best else math.nan,
            rigid_plane=best["plane"] if best else math.nan,
            rigid_two_planes=best["two_planes"] if best else math.nan,
            rigid_head=best["rigid"] if best else math.nan,
        )
        return cues

    def _finish(
        self,
        passed: bool | None,
        reason: str,
        score: float = 0.0,
        extra: dict[str, float] | None = None,
    ) -> LivenessStep:
        cues = self._cues() if self._frames else {}
        cues.update(extra or {})
        verdict = LivenessVerdict(passed, float(score), reason, cues)
        progress = 1.0 if passed else self.tracker.progress
        self._result = LivenessStep(None, progress, verdict, facing=self._facing)
        log.info(
            "liveness verdict: passed=%s reason=%s score=%.3f challenge=%s",
            passed,
            reason,
            score,
            ",".join(self.challenge),
        )
        return self._result

    def _decide(self, t: float) -> LivenessStep:
        """The challenge is complete: now timing, identity and the passive cues decide."""
        if self._frames < self.cfg.min_frames:
            return self._finish(None, "too_few_frames")
        if self.identity.samples < 2:
            return self._finish(None, "identity_unavailable")
        if any(p in TURNS for p in self.challenge):
            # judged on the turn that looked most like a head: a flat object (a print,
            # folded or not, a flat mask) is flat at every turn, while one turn of a
            # real head can be read flat (landmark noise, a small turn)
            best = self.rigidity.best
            if best is None:
                return self._finish(None, "rigidity_unavailable")
            if best["margin"] < self.cfg.rigidity_min_margin:
                return self._finish(False, f"not_3d:{flattest(best)}")
        ruling = self.tracker.reaction_ruling(self.extended) if self.challenge else "ok"
        if ruling == "more":
            return self._extend(t)
        if ruling == "slow":
            # slow to start every move: an applicant who hesitates, or an attacker picking
            # a recorded clip for each prompt; a person tells them apart
            return self._finish(None, "slow_reaction")
        pa = self.checker.assess_passive(self.live_cues(), mode=self.mode)
        live = {f"live_{n}": s for n, s in pa.scores.items()}
        if pa.passed is None or self.mode != "active":
            return self._finish(pa.passed, pa.reason, pa.score, live)
        return self._finish(True, "live", pa.score, live)  # mode "active": cues reported only


__all__ = ["LivenessSession", "LivenessStep", "LivenessVerdict", "SessionChecker"]
