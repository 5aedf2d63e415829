"""Passive cue scoring: raw cue values → per-cue live-likelihoods → one verdict.

Kept apart from the session so the same rule scores a live session, a recorded
`LivenessVerdict.cues` dict (`kiosk liveness eval`), and the technician's live view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.config import LivenessConfig
from kiosk.config_ranges import LIVENESS_CUES, parse_cue_weights, parse_required_cues
from kiosk.vision.liveness_cues import ramp

# The cue names and their config parsers live with the config checks, which must not import
# numpy; the names are kept here for the scoring code.
CUES = LIVENESS_CUES
parse_weights = parse_cue_weights
parse_required = parse_required_cues
# Cues that only mean something when the head has turned (not in mode "passive").
MOTION_CUES = ("parallax",)


@dataclass(frozen=True)
class PassiveAssessment:
    """What the passive cues alone say: combined score, per-cue live-likelihoods, verdict."""

    passed: bool | None
    score: float
    reason: str
    scores: dict[str, float]


def cue_scores(measures: dict[str, float], cfg: LivenessConfig) -> dict[str, float]:
    """Each raw cue value → live-likelihood 0..1 through its configured ramp (NaN stays)."""
    out: dict[str, float] = {}
    for name, value in measures.items():
        if name == "pad_model":
            out[name] = value  # already a live probability
        elif value is None or math.isnan(value):
            out[name] = float("nan")
        else:
            out[name] = ramp(value, getattr(cfg, f"{name}_attack"), getattr(cfg, f"{name}_live"))
    return out


def assess_passive(
    measures: dict[str, float],
    cfg: LivenessConfig,
    weights_cfg: dict[str, float],
    required_cfg: tuple[str, ...],
    *,
    mode: str = "",
    pad_model_present: bool = False,
) -> PassiveAssessment:
    """Combine raw cue values (as in `LivenessVerdict.cues`) into one passive verdict.

    Score = weighted mean of the per-cue live-likelihoods that could be computed
    (weights from `cue_weights`). A required cue that is missing → None; any cue
    below `cue_veto` → False (one strong sign of an attack is enough); a score
    below `passive_threshold` → False. Also used by `kiosk liveness eval` to say
    what the passive cues would decide on attacks the challenge already stopped.
    """
    scores = cue_scores({k: measures.get(k, float("nan")) for k in CUES}, cfg)
    weights = dict(weights_cfg)
    required = set(required_cfg)
    if (mode or cfg.mode) == "passive":
        for name in MOTION_CUES:
            weights.pop(name, None)
            required.discard(name)
    if pad_model_present:
        required.add("pad_model")
    missing = sorted(n for n in required if math.isnan(scores.get(n, float("nan"))))
    usable = {n: s for n, s in scores.items() if not math.isnan(s) and weights.get(n, 0) > 0}
    total = sum(weights[n] for n in usable)
    score = sum(weights[n] * s for n, s in usable.items()) / total if total else 0.0
    if missing:
        return PassiveAssessment(None, score, "cue_unavailable:" + ",".join(missing), scores)
    if not usable:
        return PassiveAssessment(None, score, "no_passive_cue", scores)
    vetoed = sorted(n for n, s in usable.items() if s < cfg.cue_veto)
    if vetoed:
        return PassiveAssessment(False, score, "cue_veto:" + ",".join(vetoed), scores)
    if score < cfg.passive_threshold:
        return PassiveAssessment(False, score, "passive_score_low", scores)
    return PassiveAssessment(True, score, "live", scores)
