"""Liveness (presentation-attack detection) without a trained model.

A session asks the applicant for a random sequence of head turns (the *active
challenge*) and, on the same frames, measures *passive cues* (liveness_cues.py) that tell
a living head from a photo or a screen. It also checks that the face stays the same
person in every frame, so swapping people (or photos) half-way fails.

Everything fails closed: a timeout, a lost face, a changed identity or a turn the wrong
way ends in ``passed=False``; too few frames or a required cue that cannot be computed
ends in ``passed=None`` ("cannot decide": the flow calls the proctor). Nothing but a
completed challenge with consistent identity and a passive score above threshold is
``passed=True``. What this can and cannot stop is in docs/LIVENESS.md.

Turn directions are the applicant's own: ``turn_left`` = the applicant turns towards
their left, which in the (unmirrored) camera image moves the nose to the image's right,
i.e. yaw increases (see quality.py for the sign conventions).

    >>> from kiosk.config import LivenessConfig
    >>> checker = LivenessChecker(LivenessConfig(mode="off-requires-proctor"))
    >>> checker.available, checker.unavailable_reason
    (False, 'liveness_off')
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kiosk.config import KioskConfig, LivenessConfig
from kiosk.errors import ConfigError, KioskError
from kiosk.vision.embed import cosine_similarity
from kiosk.vision.liveness_cues import PassiveEvidence
from kiosk.vision.liveness_pad import PadModel
from kiosk.vision.liveness_passive import (
    PassiveAssessment,
    assess_passive,
    parse_required,
    parse_weights,
)

if TYPE_CHECKING:
    from kiosk.vision.pipeline import FaceEngine, FaceObservation

log = logging.getLogger(__name__)

TURNS = ("turn_left", "turn_right", "look_up")
PROMPTS = (*TURNS, "hold_still", "face_camera")
_PAD_EVERY = 3  # the PAD model (when present) runs on every n-th frame


@dataclass(frozen=True)
class LivenessVerdict:
    """The outcome. `passed` None means "cannot decide": the flow sends to a proctor."""

    passed: bool | None
    score: float  # combined passive live-likelihood 0..1 (0 when not computed)
    reason: str  # "live" or a reason code, e.g. "timeout:turn_left", "identity_changed"
    cues: dict[str, float]


@dataclass(frozen=True)
class LivenessStep:
    """What to tell the applicant now; `verdict` is set once the session is over."""

    prompt: str | None  # one of PROMPTS, or None when the session is over
    progress: float  # 0..1
    verdict: LivenessVerdict | None = None


class LivenessSession:
    """One applicant's liveness check: feed every analysed frame until `verdict` is set.

    Holds no images: each frame is measured when fed and then dropped.
    """

    def __init__(self, checker: LivenessChecker, challenge: tuple[str, ...]) -> None:
        self.checker = checker
        self.cfg = checker.cfg
        self.challenge = challenge
        self.mode = self.cfg.mode
        self.evidence = PassiveEvidence()
        self._phase = "baseline"  # baseline → step → return → done   (passive: → watch)
        self._step = 0
        self._phase_t: float | None = None
        self._start_t: float | None = None
        self._last_face_t: float | None = None
        self._baseline: list[tuple[float, float]] = []
        self._base = (0.0, 0.0)
        self._hold = 0
        self._in_wrong = False
        self._wrong = 0
        self._ref_embedding: np.ndarray | None = None
        self._prev_embedding: np.ndarray | None = None
        self._min_cos = 1.0
        self._min_step_cos = 1.0
        self._samples = 0  # frames with an embedding (identity samples)
        self._frames = 0
        self._yaws: list[float] = []
        self._pitches: list[float] = []
        self._pad: list[float] = []
        self._result: LivenessStep | None = None
        if not checker.available:
            self._result = self._finish(None, checker.unavailable_reason)

    # ------------------------------------------------------------ public

    @property
    def verdict(self) -> LivenessVerdict | None:
        return self._result.verdict if self._result else None

    def feed(self, obs: FaceObservation | None, frame_bgr: np.ndarray, t: float) -> LivenessStep:
        """Take one analysed frame (obs None: no face found in it) at time `t` seconds."""
        if self._result is not None:
            return self._result
        if self._start_t is None:
            self._start_t = self._phase_t = t
            self._last_face_t = t
        assert self._phase_t is not None and self._last_face_t is not None
        # The flow may skip frames without a face instead of feeding None: either way a
        # gap longer than max_face_gap_s means the face left (or was swapped out of) view.
        if t - self._last_face_t > self.cfg.max_face_gap_s:
            return self._finish(False, "face_lost")
        if obs is None:
            return self._timeout_or(t, self._prompt())
        self._last_face_t = t
        self._frames += 1
        try:
            self._measure(obs, frame_bgr)
        except KioskError:
            raise
        except Exception as exc:  # a cue crashing must not let anyone through
            log.exception("liveness cue failed")
            return self._finish(None, f"cue_error:{type(exc).__name__}")
        if self._identity_changed(obs):
            return self._finish(False, "identity_changed")
        yaw, pitch = obs.quality.pose.yaw, obs.quality.pose.pitch
        self._yaws.append(yaw)
        self._pitches.append(pitch)
        advanced = self._advance(yaw, pitch, t)
        if self._result is not None:
            return self._result
        if self._phase == "done":
            return self._decide()
        if not advanced:
            return self._timeout_or(t, self._prompt())
        return LivenessStep(self._prompt(), self._progress())

    def live_cues(self) -> dict[str, float]:
        """Current raw cue values (technician calibration mode shows these live)."""
        measures = self.evidence.measures()
        measures["pad_model"] = float(np.mean(self._pad)) if self._pad else float("nan")
        measures["identity_min_cos"] = self._min_cos
        measures["identity_min_step_cos"] = self._min_step_cos
        return measures

    # ------------------------------------------------------------ internals

    def _measure(self, obs: FaceObservation, frame_bgr: np.ndarray) -> None:
        self.evidence.add(frame_bgr, obs.box, obs.landmarks)
        pad = self.checker.pad_model
        if pad is not None and self._frames % _PAD_EVERY == 1:
            value = pad.infer(frame_bgr, obs.box)
            if not math.isnan(value):
                self._pad.append(value)

    def _identity_changed(self, obs: FaceObservation) -> bool:
        """Same person as in the first frame, and as in the frame before.

        A recogniser's similarity drops as the head turns 30° away from the first,
        frontal frame, so the first-frame threshold must be loose; between samples a few
        frames apart the pose changes by a few degrees only, so a tight threshold there
        catches the moment of a swap that the loose one could miss.

        Only sampled frames carry an embedding (the flow embeds the first face of each
        challenge step and every few frames after, `checkin.identity_sample_every`);
        the others are no identity evidence either way.
        """
        if obs.embedding is None:
            return False
        self._samples += 1
        if self._ref_embedding is None:
            self._ref_embedding = self._prev_embedding = obs.embedding
            return False
        cos = self.checker.embed_similarity(self._ref_embedding, obs.embedding)
        step = self.checker.embed_similarity(self._prev_embedding, obs.embedding)
        self._prev_embedding = obs.embedding
        self._min_cos = min(self._min_cos, cos)
        self._min_step_cos = min(self._min_step_cos, step)
        return cos < self.cfg.identity_min_cosine or step < self.cfg.identity_step_min_cosine

    def _enter(self, phase: str, t: float) -> None:
        self._phase, self._phase_t, self._hold, self._in_wrong = phase, t, 0, False

    def _advance(self, yaw: float, pitch: float, t: float) -> bool:
        """Move the state machine on; True when the phase changed."""
        cfg = self.cfg
        if self._phase == "baseline":
            if abs(yaw) <= cfg.turn_deg and abs(pitch) <= cfg.turn_deg:
                self._baseline.append((yaw, pitch))
            if len(self._baseline) >= cfg.baseline_frames:
                arr = np.asarray(self._baseline)
                self._base = (float(np.median(arr[:, 0])), float(np.median(arr[:, 1])))
                if self.mode == "passive":
                    self._enter("watch", t)
                else:
                    self._step = 0
                    self._enter("step" if self.challenge else "return", t)
                    self._in_wrong = self._wrong_zone(yaw, pitch)
                return True
            return False
        dy, dp = yaw - self._base[0], pitch - self._base[1]
        if self._phase == "watch":
            if t - (self._phase_t or t) >= cfg.passive_duration_s:
                self._enter("done", t)
                return True
            return False
        if self._phase == "return":
            if abs(dy) < cfg.turn_deg / 2 and abs(dp) < cfg.pitch_deg:
                self._hold += 1
                if self._hold >= cfg.hold_frames:
                    self._enter("done", t)
                    return True
            else:
                self._hold = 0
            return False
        # phase "step"
        prompt = self.challenge[self._step]
        if self._target_reached(prompt, dy, dp):
            self._hold += 1
            if self._hold >= cfg.hold_frames:
                self._step += 1
                self._enter("step" if self._step < len(self.challenge) else "return", t)
                if self._phase == "step":
                    self._in_wrong = self._wrong_zone(yaw, pitch)
                return True
            return False
        self._hold = 0
        wrong = self._wrong_zone(yaw, pitch)
        if wrong and not self._in_wrong:
            self._wrong += 1
            log.info("liveness: wrong move %d during %s", self._wrong, prompt)
            if self._wrong > cfg.max_wrong_moves:
                self._finish(False, "wrong_direction")
        self._in_wrong = wrong
        return False

    def _target_reached(self, prompt: str, dy: float, dp: float) -> bool:
        if prompt == "turn_left":
            return dy >= self.cfg.turn_deg
        if prompt == "turn_right":
            return dy <= -self.cfg.turn_deg
        return dp >= self.cfg.pitch_deg and abs(dy) < self.cfg.turn_deg  # look_up

    def _wrong_zone(self, yaw: float, pitch: float) -> bool:
        """A clear turn the opposite way of the current prompt (a replay cycling through
        every move would eventually match any challenge; this stops it trying).

        Only yaw counts: the landmark pitch estimate is too noisy (and people nod while
        they listen) for a dip in pitch to be called a wrong move.
        """
        if self._phase != "step":
            return False
        dy = yaw - self._base[0]
        prompt = self.challenge[self._step]
        if prompt == "turn_left":
            return dy <= -self.cfg.turn_deg
        if prompt == "turn_right":
            return dy >= self.cfg.turn_deg
        return False

    def _prompt(self) -> str:
        if self._phase == "baseline":
            return "hold_still" if self._baseline else "face_camera"
        if self._phase == "step":
            return self.challenge[self._step]
        if self._phase == "watch":
            return "hold_still"
        return "face_camera"

    def _progress(self) -> float:
        if self.mode == "passive":
            total, done = 2, {"baseline": 0, "watch": 1}.get(self._phase, 2)
        else:
            total = len(self.challenge) + 2
            done = {"baseline": 0, "step": 1 + self._step, "return": total - 1}.get(
                self._phase, total
            )
        return min(1.0, done / total)

    def _timeout_or(self, t: float, prompt: str) -> LivenessStep:
        assert self._phase_t is not None
        limit = (
            self.cfg.baseline_timeout_s
            if self._phase == "baseline"
            else self.cfg.passive_duration_s + self.cfg.step_timeout_s
            if self._phase == "watch"
            else self.cfg.step_timeout_s
        )
        if t - self._phase_t > limit:
            return self._finish(False, f"timeout:{prompt}")
        return LivenessStep(prompt, self._progress())

    def _cues(self) -> dict[str, float]:
        cues = self.live_cues()
        cues.update(
            frames=float(self._frames),
            wrong_moves=float(self._wrong),
            yaw_range=float(np.ptp(self._yaws)) if self._yaws else 0.0,
            pitch_range=float(np.ptp(self._pitches)) if self._pitches else 0.0,
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
        self._result = LivenessStep(None, 1.0 if passed else self._progress(), verdict)
        log.info(
            "liveness verdict: passed=%s reason=%s score=%.3f challenge=%s",
            passed,
            reason,
            score,
            ",".join(self.challenge),
        )
        return self._result

    def _decide(self) -> LivenessStep:
        """The challenge is complete: now the passive cues and identity decide."""
        if self._frames < self.cfg.min_frames:
            return self._finish(None, "too_few_frames")
        if self._samples < 2 or self._ref_embedding is None:
            return self._finish(None, "identity_unavailable")
        pa = self.checker.assess_passive(self.live_cues(), mode=self.mode)
        live = {f"live_{n}": s for n, s in pa.scores.items()}
        if pa.passed is None or self.mode != "active":
            return self._finish(pa.passed, pa.reason, pa.score, live)
        return self._finish(True, "live", pa.score, live)  # mode "active": cues reported only


class LivenessChecker:
    """Builds liveness sessions from config; holds the optional PAD model.

    `embed_similarity` compares two embeddings (cosine by default) and is injectable so
    tests and other recognisers can supply their own measure.
    """

    def __init__(
        self,
        cfg: LivenessConfig,
        *,
        embed_similarity: Callable[[np.ndarray, np.ndarray], float] = cosine_similarity,
        pad_model: PadModel | None = None,
    ) -> None:
        self.cfg = cfg
        self.embed_similarity = embed_similarity
        self.pad_model = pad_model
        self.weights = parse_weights(cfg.cue_weights)
        self.required = parse_required(cfg.required_cues)
        if not 1 <= cfg.challenge_steps <= 6:
            raise ConfigError("[liveness] challenge_steps must be 1..6")
        self.available = cfg.mode != "off-requires-proctor"
        self.unavailable_reason = "" if self.available else "liveness_off"

    @classmethod
    def from_config(cls, cfg: KioskConfig, engine: FaceEngine | None = None) -> LivenessChecker:
        """The checker for this kiosk; loads the pack's PAD model when it declares one.

        A declared PAD model that fails its integrity check makes liveness unavailable
        (the flow then requires a proctor) rather than silently running without it.
        """
        from kiosk.vision.liveness_pad import load_pad_model
        from kiosk.vision.packs import resolve_pack

        pad_model: PadModel | None = None
        reason = ""
        if cfg.liveness.mode != "off-requires-proctor":
            try:
                pack = engine.pack if engine is not None else resolve_pack(cfg)
                if pack.has("pad"):
                    pad_model = load_pad_model(pack.get("pad"), cfg.runtime)
            except KioskError as exc:
                log.error("liveness unavailable: %s", exc)
                reason = f"pad_model_unavailable:{exc.code}"
        checker = cls(cfg.liveness, pad_model=pad_model)
        if reason:
            checker.available, checker.unavailable_reason = False, reason
        return checker

    def assess_passive(self, measures: dict[str, float], *, mode: str = "") -> PassiveAssessment:
        """The passive verdict for raw cue values (see liveness_passive.assess_passive)."""
        return assess_passive(
            measures,
            self.cfg,
            self.weights,
            self.required,
            mode=mode,
            pad_model_present=self.pad_model is not None,
        )

    def start(self, rng: random.Random | None = None) -> LivenessSession:
        """A new session with a fresh random challenge (unpredictable by default, so a
        replay cannot be prepared for it; pass a seeded `rng` for repeatable tests)."""
        rng = rng or random.SystemRandom()
        steps: list[str] = []
        for _ in range(self.cfg.challenge_steps if self.cfg.mode != "passive" else 0):
            choices = [p for p in TURNS if not steps or p != steps[-1]]
            steps.append(rng.choice(choices))
        return LivenessSession(self, tuple(steps))
