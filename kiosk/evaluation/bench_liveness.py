"""Per-frame cost of the liveness challenge for `kiosk bench`: what a frame costs on top
of detect/align/quality/embed while a challenge runs (dense landmarks + blendshapes,
the pose fit and blink/mouth scores, the passive cues, the rigidity fit at a turn's
end). The landmark model runs at most every `landmark_interval_ms`, so at 25 fps the
challenge pays for it on every other frame: `per_frame_at_fps` says what that averages to.
"""

from __future__ import annotations

import time

import numpy as np

from kiosk.config import KioskConfig
from kiosk.vision.landmark_cues import eye_blink, head_pose, mouth_open
from kiosk.vision.landmarks import DenseLandmarker
from kiosk.vision.liveness_cues import PassiveEvidence
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.rigidity import turn_residuals


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def challenge_cost(
    cfg: KioskConfig, engine: FaceEngine, frames: list[np.ndarray], repeats: int = 30
) -> dict[str, object]:
    """Median/p95 ms of each challenge stage over `repeats` passes of `frames`."""
    landmarker = DenseLandmarker.from_pack(engine.pack, cfg.runtime)
    observations = [engine.analyze(f, embed="none").primary for f in frames]
    pairs = [(f, o) for f, o in zip(frames, observations, strict=True) if o is not None]
    if not pairs:
        return {"error": "no face in the bench frames"}
    names = ("landmarks", "pose_blink_mouth", "passive", "rigidity")
    stages: dict[str, list[float]] = {name: [] for name in names}
    evidence = PassiveEvidence()
    reference = None
    for n in range(repeats):
        frame, obs = pairs[n % len(pairs)]
        t = time.perf_counter()
        dense = landmarker.infer(frame, obs.box, obs.landmarks)
        t1 = time.perf_counter()
        head_pose(dense.points, landmarker.canonical_mesh)
        eye_blink(dense, landmarker.canonical_mesh)
        mouth_open(dense)
        t2 = time.perf_counter()
        evidence.add(frame, obs.box, obs.landmarks)
        t3 = time.perf_counter()
        reference = dense.points if reference is None else reference
        turn_residuals(reference, dense.points)
        t4 = time.perf_counter()
        for name, a, b in (
            ("landmarks", t, t1),
            ("pose_blink_mouth", t1, t2),
            ("passive", t2, t3),
            ("rigidity", t3, t4),
        ):
            stages[name].append((b - a) * 1000)
    stats = {k: _stats(v) for k, v in stages.items()}
    every = max(1e-3, cfg.liveness.landmark_interval_ms)
    per_frame = {}
    for fps in (10.0, 25.0):
        share = 1.0 / max(1, int(np.ceil(every / (1000.0 / fps))))
        per_frame[f"{fps:g}fps"] = (
            share * (stats["landmarks"]["median"] + stats["pose_blink_mouth"]["median"])
            + stats["passive"]["median"]
        )
    return {"stages_ms": stats, "per_frame_at_fps_ms": per_frame, "provider": landmarker.provider}


__all__ = ["challenge_cost"]
