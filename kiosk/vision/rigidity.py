"""3D rigidity cue: does the face move like a head, like one plane, or like two planes?

When a head turns, points at different depths (nose tip, cheeks, eye corners, forehead)
move by different amounts: no homography maps the frontal view onto the turned one. A
printed face (or a face on a screen) is one plane: one homography maps every point,
whatever the sheet does. A print folded along the nose is two planes: two homographies,
one per half. A flat mask worn over a head is one plane too, even though the head
behind it turns.

`turn_residuals` fits the three models to the 2D positions of rigid mesh points (no
lips, no eyelids: those move by themselves) in a frontal reference frame and a turned
frame, and returns their RMS residuals in inter-eye distances:

- ``plane``: one homography (8 parameters);
- ``two_planes``: one homography per side of a vertical fold line through the nose
  (tried at three offsets, the best kept: the attacker's fold is not exactly there);
- ``rigid``: an affine camera of the reference points lifted to 3D with the model's
  relative depth (8 parameters: a rigid head seen at kiosk distance).

``margin`` = min(plane, two_planes) − rigid: how much better a rigid head explains the
motion than any flat object. Both flat hypotheses explain a flat object as well as the
3D one does (margin ≈ 0); a turning head leaves ~0.02–0.05 IED (docs/LIVENESS.md).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Rigid points of MediaPipe's face mesh: forehead, brows, nose, eye corners, cheeks.
RIGID_POINTS = (
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358, 48, 278, 33, 133,
    362, 263, 50, 280, 101, 330, 116, 345, 123, 352, 117, 346, 205, 425, 36, 266, 227,
    447, 137, 366, 107, 336, 66, 296,
)  # fmt: skip
_NOSE_TIP, _RIGHT_EYE_OUTER, _LEFT_EYE_OUTER = 1, 33, 263
_MIN_SIDE = 8  # points each side of a fold needs for its own homography


def _rms(residual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(residual * residual, axis=1))))


def _homography_residual(src: np.ndarray, dst: np.ndarray) -> float:
    H, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), 0)
    if H is None:
        return float("inf")
    proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)
    return _rms(proj - dst)


def _affine_3d_residual(src3: np.ndarray, dst: np.ndarray) -> float:
    lifted = np.hstack([src3, np.ones((len(src3), 1))])
    coef, *_ = np.linalg.lstsq(lifted, dst, rcond=None)
    return _rms(lifted @ coef - dst)


def turn_residuals(reference: np.ndarray, turned: np.ndarray) -> dict[str, float]:
    """Residuals (IED units) of the plane, two-plane and rigid-head models.

    `reference` and `turned` are (478, 3) dense landmarks in frame pixels (x, y, relative
    depth) of the same face, frontal and turned.
    """
    ref = np.asarray(reference, np.float64)
    cur = np.asarray(turned, np.float64)
    ied = float(np.linalg.norm(ref[_RIGHT_EYE_OUTER, :2] - ref[_LEFT_EYE_OUTER, :2]))
    if ied <= 1.0:
        return {"plane": math.nan, "two_planes": math.nan, "rigid": math.nan, "margin": math.nan}
    idx = list(RIGID_POINTS)
    src3, src, dst = ref[idx], ref[idx, :2], cur[idx, :2]
    plane = _homography_residual(src, dst)
    # the fold runs along the face's vertical axis through the nose (roll removed)
    eye_axis = ref[_LEFT_EYE_OUTER, :2] - ref[_RIGHT_EYE_OUTER, :2]
    across = (src - ref[_NOSE_TIP, :2]) @ (eye_axis / ied)
    two = float("inf")
    for offset in (-0.15 * ied, 0.0, 0.15 * ied):
        side = across < offset
        if side.sum() < _MIN_SIDE or (~side).sum() < _MIN_SIDE:
            continue
        r1 = _homography_residual(src[side], dst[side])
        r2 = _homography_residual(src[~side], dst[~side])
        combined = math.sqrt((r1 * r1 * side.sum() + r2 * r2 * (~side).sum()) / len(src))
        two = min(two, combined)
    rigid = _affine_3d_residual(src3, dst)
    out = {"plane": plane / ied, "two_planes": two / ied, "rigid": rigid / ied}
    out["margin"] = min(out["plane"], out["two_planes"]) - out["rigid"]
    return out


def flattest(residuals: dict[str, float]) -> str:
    """Which flat model explains the motion best: "plane" or "two_planes"."""
    return "plane" if residuals["plane"] <= residuals["two_planes"] * 1.15 else "two_planes"


class TurnRigidity:
    """One liveness session's rigidity evidence: the frontal reference mesh (from the
    baseline), the last `keep` turned meshes of the turn step under way, and one median
    fit per completed turn. `best` is the turn that looked most like a head: a flat
    object is flat at every turn, one turn of a real head can read flat."""

    def __init__(self, keep: int = 5) -> None:
        self.keep = keep
        self.reference: np.ndarray | None = None
        self.fits: list[dict[str, float]] = []
        self._turned: list[np.ndarray] = []

    def add_turned(self, points: np.ndarray) -> None:
        self._turned = [*self._turned[-(self.keep - 1) :], points]

    def turn_done(self) -> None:
        """Fit the turn that just ended against the reference (median over its frames)."""
        turned, self._turned = self._turned, []
        if self.reference is None or not turned:
            return
        fits = [turn_residuals(self.reference, p) for p in turned]
        fits = [f for f in fits if not math.isnan(f["margin"])]
        if fits:
            self.fits.append({k: float(np.median([f[k] for f in fits])) for k in fits[0]})

    def clear_turned(self) -> None:
        self._turned = []

    @property
    def best(self) -> dict[str, float] | None:
        return max(self.fits, key=lambda r: r["margin"], default=None)


__all__ = ["RIGID_POINTS", "TurnRigidity", "flattest", "turn_residuals"]
