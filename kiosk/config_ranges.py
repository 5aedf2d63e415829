"""The documented range of every numeric config key, and the liveness cue lists.

`kiosk config check` and every load refuse a value outside its range, naming the key and
the range. The ranges are wide enough for any real kiosk and narrow enough that a typo
cannot hang or crash the door later: ``intra_op_threads = 100000`` made ONNX Runtime
start 100,000 threads, ``retention_days = 100000000`` overflowed the date arithmetic of
the purge, ``override_rate_alert = 5.0`` silently turned flagging off.

Stdlib only (the config module is imported by `kiosk --help`). The cue names live here,
not in `kiosk.vision`, so the config can check them without importing numpy.
"""

from __future__ import annotations

from typing import Final

from kiosk.errors import ConfigError

# (section, key) -> (lowest, highest), both inclusive. A key missing here is a bug: a test
# checks every int and float field of KioskConfig has an entry.
RANGES: Final[dict[tuple[str, str], tuple[float, float]]] = {
    # ONNX Runtime thread pools: more threads than any kiosk has cores only adds spinning.
    ("runtime", "intra_op_threads"): (1, 64),
    ("runtime", "detector_intra_op_threads"): (1, 64),
    ("runtime", "inter_op_threads"): (1, 64),
    ("runtime", "landmark_intra_op_threads"): (1, 64),
    ("runtime", "opencv_threads"): (1, 64),
    ("vision", "detector_long_side"): (64, 1920),
    ("vision", "det_score_threshold"): (0, 1),
    ("vision", "nms_iou_threshold"): (0, 1),
    ("vision", "max_faces"): (1, 100),
    ("quality", "min_inter_eye_px"): (0, 1000),
    ("quality", "min_face_height_frac"): (0, 1),
    ("quality", "max_yaw_deg"): (0, 90),
    ("quality", "max_pitch_deg"): (0, 90),
    ("quality", "max_roll_deg"): (0, 180),
    ("quality", "min_sharpness"): (0, 100_000),
    ("quality", "min_luminance"): (0, 255),
    ("quality", "max_luminance"): (0, 255),
    ("quality", "max_underexposed_frac"): (0, 1),
    ("quality", "max_overexposed_frac"): (0, 1),
    ("quality", "min_illumination_uniformity"): (0, 1),
    ("quality", "min_det_score"): (0, 1),
    ("quality", "second_face_area_ratio"): (0, 1),
    ("match", "target_fmr"): (1e-9, 0.5),
    ("match", "frames_to_fuse"): (1, 30),
    ("match", "identification_margin"): (0, 2),  # a cosine difference
    # config.py refuses anything under CALIBRATION_MIN_PEOPLE (20): it can only be raised
    ("match", "calibration_min_people"): (1, 10_000),
    ("checkin", "claim_timeout_s"): (1, 3600),
    ("checkin", "capture_timeout_s"): (1, 600),
    ("checkin", "liveness_timeout_s"): (1, 600),
    ("checkin", "max_attempts"): (1, 20),
    ("checkin", "early_window_min"): (0, 24 * 60),
    ("checkin", "late_window_min"): (0, 24 * 60),
    ("checkin", "decision_display_s"): (0, 600),
    ("checkin", "qr_repeat_ignore_s"): (0, 3600),
    ("checkin", "identity_sample_every"): (0, 1000),  # 0: one identity sample per step
    ("liveness", "challenge_steps"): (2, 6),
    ("liveness", "step_timeout_s"): (0.5, 60),
    ("liveness", "turn_deg"): (1, 90),
    ("liveness", "passive_threshold"): (0, 1),
    ("liveness", "pitch_deg"): (1, 90),
    ("liveness", "challenge_min_steps"): (2, 6),
    ("liveness", "baseline_ms"): (50, 10_000),
    ("liveness", "baseline_timeout_s"): (0.5, 120),
    ("liveness", "hold_ms"): (0, 5_000),
    ("liveness", "blink_rise"): (0, 1),
    ("liveness", "mouth_rise"): (0, 1),
    ("liveness", "landmark_interval_ms"): (0, 1_000),
    ("liveness", "rigidity_min_margin"): (0, 1),
    ("liveness", "max_reaction_s"): (0.1, 30),
    ("liveness", "reaction_extra_steps"): (0, 4),
    ("liveness", "max_reaction_extended_s"): (0.1, 30),
    ("liveness", "max_wrong_moves"): (0, 20),
    ("liveness", "identity_min_cosine"): (-1, 1),
    ("liveness", "max_face_gap_s"): (0, 60),
    ("liveness", "min_frames"): (1, 1000),
    ("liveness", "passive_duration_s"): (0.1, 60),
    ("liveness", "cue_veto"): (0, 1),
    ("liveness", "identity_step_min_cosine"): (-1, 1),
    # Ramp ends of the passive cues (raw cue values; see docs/LIVENESS.md).
    ("liveness", "parallax_attack"): (0, 10),
    ("liveness", "parallax_live"): (0, 10),
    ("liveness", "moire_attack"): (0, 1000),
    ("liveness", "moire_live"): (0, 1000),
    ("liveness", "border_attack"): (0, 1000),
    ("liveness", "border_live"): (0, 1000),
    ("liveness", "micro_motion_attack"): (0, 10),
    ("liveness", "micro_motion_live"): (0, 10),
    ("liveness", "glare_attack"): (0, 1),
    ("liveness", "glare_live"): (0, 1),
    ("liveness", "gamut_attack"): (0, 1),
    ("liveness", "gamut_live"): (0, 1),
    ("ledger", "retention_days"): (1, 3650),
    ("sync", "batch_size"): (1, 10_000),
    ("sync", "interval_s"): (0.1, 86_400),
    ("sync", "timeout_s"): (0.1, 600),
    ("sync", "max_backoff_s"): (1, 86_400),
    ("centre", "port"): (1, 65535),
    ("centre", "max_batch"): (1, 100_000),
    ("centre", "override_rate_alert"): (0, 1),
    ("camera", "width"): (16, 7680),
    ("camera", "height"): (16, 4320),
    ("camera", "fps"): (1, 240),
}

# Passive liveness cues (kiosk/vision/liveness_passive.py scores them).
LIVENESS_CUES: Final = (
    "parallax",
    "moire",
    "border",
    "micro_motion",
    "glare",
    "gamut",
    "pad_model",
)


def shown(value: object, limit: int = 40) -> str:
    """`repr(value)` cut to `limit` characters: a 400-digit typo need not fill the screen."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def _number(value: float) -> str:
    return f"{value:g}"


def check_ranges(values: dict[tuple[str, str], float]) -> None:
    """ConfigError naming the first key whose value lies outside its documented range."""
    for (section, key), (lo, hi) in RANGES.items():
        if (section, key) not in values:
            continue
        value = values[(section, key)]
        if not lo <= value <= hi:
            raise ConfigError(
                f"[{section}] {key} must be between {_number(lo)} and {_number(hi)}, "
                f"got {shown(value)}"
            )


def parse_cue_weights(text: str) -> dict[str, float]:
    """`"parallax=0.3,moire=0.25"` -> dict; an unknown cue, a bad number or a weight outside
    0..10 is a ConfigError (weights are relative: the score is their weighted mean)."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if name not in LIVENESS_CUES:
            raise ConfigError(
                f"[liveness] cue_weights: unknown cue {name!r}; known: {', '.join(LIVENESS_CUES)}"
            )
        try:
            if not sep:
                raise ValueError(part)
            weight = float(value)
        except ValueError:
            raise ConfigError(f"[liveness] cue_weights: {part!r} is not name=number") from None
        if not 0.0 <= weight <= 10.0:  # also refuses nan
            raise ConfigError(f"[liveness] cue_weights: {name} must be between 0 and 10")
        if name in weights:
            raise ConfigError(f"[liveness] cue_weights: {name} is given twice")
        weights[name] = weight
    if weights and not any(weights.values()):
        raise ConfigError("[liveness] cue_weights: at least one weight must be above 0")
    return weights


def parse_required_cues(text: str) -> tuple[str, ...]:
    """`"parallax,moire"` -> tuple; an unknown cue name is a ConfigError."""
    names = tuple(filter(None, (p.strip() for p in text.split(","))))
    for name in names:
        if name not in LIVENESS_CUES:
            raise ConfigError(
                f"[liveness] required_cues: unknown cue {name!r}; known: {', '.join(LIVENESS_CUES)}"
            )
    return names


__all__ = [
    "LIVENESS_CUES",
    "RANGES",
    "check_ranges",
    "parse_cue_weights",
    "parse_required_cues",
    "shown",
]
