"""Liveness cues from dense landmarks: head pose, eye blink, mouth opening.

Head pose is a weighted rigid fit (Umeyama: rotation, scale, translation) of MediaPipe's
canonical face mesh onto the observed points, using the canonical mesh's own Procrustes
weights (33 stable points: eye corners, nose bridge, forehead; none on the jaw or lips, so
an open mouth does not tilt the head). The observed z is the model's relative depth in
the same pixel scale as x and y, so the fit is a scaled orthographic one: good to a few
degrees at kiosk distances, where perspective across a face is small.

Signs follow `kiosk.vision.quality.HeadPose`: yaw > 0 when the nose moves towards the
image's right, pitch > 0 when the face tilts up, roll > 0 when the eye line rises to the
image's right.
"""

from __future__ import annotations

import math

import numpy as np

from kiosk.vision.landmarks import DenseLandmarks
from kiosk.vision.quality import HeadPose

# Mesh indices (MediaPipe face mesh topology). "Right"/"left" are the subject's.
RIGHT_EYE = {"outer": 33, "inner": 133, "upper": 159, "lower": 145}
LEFT_EYE = {"outer": 263, "inner": 362, "upper": 386, "lower": 374}
MOUTH = {"left_corner": 291, "right_corner": 61, "upper_inner": 13, "lower_inner": 14}


def rigid_fit(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """R, s, t minimising Σ w‖s·R·source + t − target‖² (proper rotation, det R = +1)."""
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s = w @ source
    mu_t = w @ target
    a = source - mu_s
    b = target - mu_t
    u, sig, vt = np.linalg.svd((a * w[:, None]).T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    fix = np.diag([1.0, 1.0, d])
    rotation = vt.T @ fix @ u.T
    scale = float(np.trace(np.diag(sig) @ fix) / (w @ (a * a).sum(axis=1)))
    return rotation, scale, mu_t - scale * rotation @ mu_s


def head_pose(points: np.ndarray, canonical_mesh: np.ndarray) -> HeadPose:
    """Yaw, pitch, roll (degrees) of 478 (or 468) dense points against the canonical mesh.

    `canonical_mesh` is (468, 4): x (to the image's right), y (up), z (towards the
    camera) in cm and a Procrustes weight, as `DenseLandmarker.canonical_mesh` holds it.
    """
    mesh = np.asarray(canonical_mesh, np.float64)
    observed = np.asarray(points, np.float64)[: len(mesh), :3]
    # image axes (x right, y down, z away from the camera) → the mesh's (y up, z towards).
    observed = observed * np.array([1.0, -1.0, -1.0])
    weights = mesh[:, 3] if mesh[:, 3].sum() > 0 else np.ones(len(mesh))
    keep = weights > 0
    rotation, _, _ = rigid_fit(mesh[keep, :3], observed[keep], weights[keep])
    forward = rotation[:, 2]  # where the face's +z (out of the nose) points now
    right = rotation[:, 0]
    yaw = math.degrees(math.atan2(forward[0], forward[2]))
    pitch = math.degrees(math.asin(float(np.clip(forward[1], -1.0, 1.0))))
    roll = math.degrees(math.atan2(right[1], right[0]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def _ratio(points: np.ndarray, gap: tuple[int, int], span: tuple[int, int]) -> float:
    height = float(np.linalg.norm(points[gap[0], :2] - points[gap[1], :2]))
    width = float(np.linalg.norm(points[span[0], :2] - points[span[1], :2]))
    return height / width if width > 0 else 0.0


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """Lid gap / eye width of the subject's (right, left) eye: ≈ 0.3 open, < 0.1 closed."""
    return tuple(  # type: ignore[return-value]
        _ratio(points, (eye["upper"], eye["lower"]), (eye["outer"], eye["inner"]))
        for eye in (RIGHT_EYE, LEFT_EYE)
    )


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap / mouth width: ≈ 0 closed, 0.5 and more wide open."""
    return _ratio(
        points,
        (MOUTH["upper_inner"], MOUTH["lower_inner"]),
        (MOUTH["right_corner"], MOUTH["left_corner"]),
    )


def eye_blink(lm: DenseLandmarks, canonical_mesh: np.ndarray) -> float:
    """0 (both eyes open) .. 1 (both closed).

    The blendshape scores when the pack has the blendshape model; otherwise the lid gap
    relative to the canonical mesh's (whose eyes are open), which is coarser.
    """
    if lm.blendshapes:
        return (lm.blendshapes["eyeBlinkLeft"] + lm.blendshapes["eyeBlinkRight"]) / 2.0
    open_ratio = float(np.mean(eye_openness(np.asarray(canonical_mesh)[:, :3])))
    observed = float(np.mean(eye_openness(lm.points)))
    return float(np.clip(1.0 - observed / open_ratio, 0.0, 1.0))


def mouth_open(lm: DenseLandmarks) -> float:
    """0 (closed) .. 1 (wide open): the `jawOpen` blendshape, else the lip-gap ratio."""
    if lm.blendshapes:
        return lm.blendshapes["jawOpen"]
    return float(np.clip(mouth_opening(lm.points), 0.0, 1.0))


__all__ = ["eye_blink", "eye_openness", "head_pose", "mouth_open", "mouth_opening", "rigid_fit"]
