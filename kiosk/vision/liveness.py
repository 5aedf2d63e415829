"""Liveness (presentation-attack detection) without a trained model.

A session asks the applicant for a random sequence of 3 actions (turn left or right,
look up or down, blink, open the mouth: `liveness_prompts.Prompt`), read from dense face
landmarks (`landmarks.DenseLandmarker`: head pose from the 478-point mesh, blink and mouth
from its blendshapes) against the applicant's own baseline, with holds and timeouts in
milliseconds of frame time (challenge.py). During each turn the mesh must move like a
rigid head, not like one plane (a print, a screen, a flat mask) or two (a folded print)
(rigidity.py). On the same frames it measures *passive cues* (liveness_cues.py) and checks
that every identity sample facing the camera is the same person (identity_continuity.py).
One who is slow to start the moves gets two more steps before a proctor is called
(docs/LIVENESS.md, "Slow reactions"). The session, frame by frame, is
liveness_session.py; this module builds it (`LivenessChecker`).

The landmark model runs only inside a session (the challenge), at most every
`landmark_interval_ms`; frames in between feed identity and the passive cues only.

Everything fails closed: a timeout, a lost face, a changed identity, a flat face or a turn
the wrong way ends in ``passed=False``; too few frames or a required cue that cannot be
computed ends in ``passed=None`` ("cannot decide": the flow calls the proctor). What this
can and cannot stop is in docs/LIVENESS.md and docs/THREAT_MODEL.md.

    >>> from kiosk.config import LivenessConfig
    >>> checker = LivenessChecker(LivenessConfig(mode="off-requires-proctor"))
    >>> checker.available, checker.unavailable_reason
    (False, 'liveness_off')
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from kiosk.config import KioskConfig, LivenessConfig
from kiosk.errors import ConfigError, KioskError
from kiosk.vision.embed import cosine_similarity
from kiosk.vision.liveness_pad import PadModel
from kiosk.vision.liveness_passive import (
    PassiveAssessment,
    assess_passive,
    parse_required,
    parse_weights,
)
from kiosk.vision.liveness_prompts import PROMPTS, draw_challenge
from kiosk.vision.liveness_session import LivenessSession, LivenessStep, LivenessVerdict

if TYPE_CHECKING:
    from kiosk.vision.landmarks import DenseLandmarker
    from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)


class LivenessChecker:
    """Builds liveness sessions from config; holds the dense landmarker and the optional
    PAD model. Without a landmarker it is unavailable (the flow then needs a proctor).

    `embed_similarity` compares two embeddings (cosine by default) and is injectable so
    tests and other recognisers can supply their own measure.
    """

    def __init__(
        self,
        cfg: LivenessConfig,
        *,
        landmarker: DenseLandmarker | None = None,
        embed_similarity: Callable[[np.ndarray, np.ndarray], float] = cosine_similarity,
        pad_model: PadModel | None = None,
    ) -> None:
        self.cfg = cfg
        self.landmarker = landmarker
        self.embed_similarity = embed_similarity
        self.pad_model = pad_model
        self.weights = parse_weights(cfg.cue_weights)
        self.required = parse_required(cfg.required_cues)
        if not 2 <= cfg.challenge_min_steps <= cfg.challenge_steps <= 6:
            # two at least: a turn (rigidity) and a blink or open mouth (what paper cannot do)
            raise ConfigError("[liveness] need 2 <= challenge_min_steps <= challenge_steps <= 6")
        self.available = cfg.mode != "off-requires-proctor"
        self.unavailable_reason = "" if self.available else "liveness_off"
        if self.available and landmarker is None:
            self.available, self.unavailable_reason = False, "landmarker_unavailable"

    @classmethod
    def from_config(cls, cfg: KioskConfig, engine: FaceEngine | None = None) -> LivenessChecker:
        """The checker for this kiosk: the pack's dense landmarker, and its PAD model when
        it declares one. A model that fails its integrity check makes liveness unavailable
        (the flow then requires a proctor) rather than silently running without it."""
        from kiosk.vision.landmarks import DenseLandmarker
        from kiosk.vision.liveness_pad import load_pad_model
        from kiosk.vision.packs import resolve_pack

        pad_model: PadModel | None = None
        landmarker: DenseLandmarker | None = None
        reason = ""
        if cfg.liveness.mode != "off-requires-proctor":
            role = "landmark"
            try:
                pack = engine.pack if engine is not None else resolve_pack(cfg)
                if pack.has("landmark"):
                    landmarker = DenseLandmarker.from_pack(pack, cfg.runtime)
                    landmarker.warm_up()
                role = "pad"
                if pack.has("pad"):
                    pad_model = load_pad_model(pack.get("pad"), cfg.runtime)
            except KioskError as exc:
                log.error("liveness unavailable: %s", exc)
                reason = f"{role}_model_unavailable:{exc.code}"
        checker = cls(cfg.liveness, landmarker=landmarker, pad_model=pad_model)
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
        if self.cfg.mode == "passive":
            return LivenessSession(self, ())
        steps = draw_challenge(rng, self.cfg.challenge_min_steps, self.cfg.challenge_steps)
        return LivenessSession(self, steps, rng)


__all__ = ["PROMPTS", "LivenessChecker", "LivenessSession", "LivenessStep", "LivenessVerdict"]
