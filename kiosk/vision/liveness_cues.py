"""Passive presentation-attack cues, each a small function that can be measured alone.

None of these is a trained model; each looks for one physical property that a photo or
a screen held in front of the camera has and a living head does not (or vice versa):

- `planar_parallax`: points tracked on a flat sheet move on one homography whatever the
  sheet does; points on a turning head (nose, cheeks, ears at different depths) do not.
- `moire_peakiness`: a screen's pixel grid and a printer's halftone are periodic, so
  their spectrum has sharp peaks a natural face image does not have.
- `glare_fraction`: a glossy photo or a screen reflects the room's lights as large,
  white, colourless patches on the face.
- `colour_gamut`: prints lose saturation and contrast (ink gamut, paper white).
- `micro_motion`: a living face is never perfectly still; a photo on a stand or an
  injected still frame is.
- `moving_border_length`: a sheet or phone edge is a long straight line near the face
  that moves with it; a door frame behind the applicant stays put.

`PassiveEvidence` feeds these incrementally, frame by frame, so a session never stores
the camera frames (images must not leave memory, and need not stay in it either).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Passive work is done on frames no larger than this (long side): enough detail for
# tracking and spectra at kiosk distances, bounded cost on a 1280×720 camera.
WORK_LONG_SIDE = 640
_MIN_TRACKED = 12
_FB_MAX_ERR_PX = 1.0
_BORDER_EVERY = 2  # border lines are searched on every n-th frame
_GLARE_ABOVE_SKIN = 40.0  # a reflection's value over the face's median (0..255)


def clamp_box(box: np.ndarray, shape: tuple[int, ...], scale: float = 1.0) -> tuple[int, ...]:
    """Integer x1, y1, x2, y2 of `box` grown by `scale` around its centre, inside the image."""
    h, w = shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * scale / 2, (box[3] - box[1]) * scale / 2
    x1, y1 = int(max(0, cx - hw)), int(max(0, cy - hh))
    x2, y2 = int(min(w, cx + hw)), int(min(h, cy + hh))
    return x1, y1, x2, y2


def ramp(value: float, attack: float, live: float) -> float:
    """Live-likelihood in 0..1: 0 at the attack-typical value, 1 at the live-typical one."""
    if live == attack:
        return 1.0
    return float(np.clip((value - attack) / (live - attack), 0.0, 1.0))


# ---------------------------------------------------------------- single-image cues


def moire_peakiness(face_gray: np.ndarray) -> float:
    """Height of the strongest isolated spectral peak above its radial neighbourhood.

    The log-magnitude spectrum of a windowed face crop is compared, bin by bin, with the
    median of its radial ring: natural images fall off smoothly (excess ≲ 2.5), a pixel
    grid or halftone aliased by the camera gives narrow peaks (excess ≳ 3.5). Only the
    mid/high band is used (radius 0.12–0.48 cycles/px): low frequencies are the face.
    """
    h, w = face_gray.shape[:2]
    n = min(h, w)
    if n < 48:
        return float("nan")
    y0, x0 = (h - n) // 2, (w - n) // 2
    crop = face_gray[y0 : y0 + n, x0 : x0 + n].astype(np.float32)
    crop -= crop.mean()
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    spec = np.fft.fftshift(np.abs(np.fft.fft2(crop * win)))
    logmag = np.log1p(spec)
    fy, fx = np.mgrid[0:n, 0:n]
    r = np.hypot(fy - n / 2, fx - n / 2) / n
    band = (r >= 0.12) & (r <= 0.48)
    # Exclude the two axes: sensor rows/columns and JPEG block edges live there.
    band &= (np.abs(fy - n / 2) > 1) & (np.abs(fx - n / 2) > 1)
    ring = np.minimum((r * 64).astype(np.int32), 63)
    excess = np.zeros_like(logmag)
    for k in np.unique(ring[band]):
        sel = band & (ring == k)
        excess[sel] = logmag[sel] - np.median(logmag[sel])
    return float(excess[band].max())


def skin_ellipse(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """A mask of the face's skin from its 5 landmarks (eyes, nose, mouth corners): an
    ellipse about the nose, 2 eye distances wide and 2.8 high; no background, little
    hair. `landmarks` are in the coordinates of an image of `shape`."""
    lm = np.asarray(landmarks, np.float32)
    ied = float(np.linalg.norm(lm[1] - lm[0]))
    cx, cy = lm.mean(axis=0)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.ellipse(mask, (round(cx), round(cy)), (round(ied), round(1.4 * ied)), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def glare_fraction(face_bgr: np.ndarray, skin: np.ndarray | None = None) -> float:
    """Share of the face's skin (`skin` mask; default the whole crop) that is a
    specular reflection: near-white, colourless and standing out from the skin around it.

    The skin mask matters: a white wall behind the applicant filled the crop's sides and
    read as glare, and vetoed genuine applicants. A reflection lies on top of a face
    exposed like any other, so it must also be `_GLARE_ABOVE_SKIN` levels brighter than
    the skin's median; that median leaves out near-white pixels, so a large reflection
    cannot raise it and hide itself. On skin already brighter than 215 a reflection
    cannot be told from exposure by brightness, and this reads 0 (the quality gate's
    `too_bright` is what stops a washed-out face)."""
    hsv = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2HSV)
    value = hsv[..., 2]
    inside = np.ones(value.shape, bool) if skin is None else skin
    if not inside.any():
        return float("nan")
    below = value[inside & (value < 235)]
    level = float(np.median(below)) if below.size else 255.0
    glare = (value >= max(235.0, level + _GLARE_ABOVE_SKIN)) & (hsv[..., 1] <= 40)
    # Only blobs count: a few specular pixels on a nose tip are normal skin.
    glare_u8 = cv2.morphologyEx(glare.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(glare_u8[inside].mean())


def colour_gamut(face_bgr: np.ndarray) -> float:
    """90th-percentile saturation (0..1) of the inner face: prints are washed out."""
    hsv = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2HSV)
    return float(np.percentile(hsv[..., 1], 90) / 255.0)


def border_segments(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Long straight segments (x1, y1, x2, y2) in a ring around the face box.

    The ring runs from 1.15× to 3× the box size: where a sheet's or phone's edge lies
    when the face on it is presented at a normal check-in distance.
    """
    face_h = float(box[3] - box[1])
    if face_h <= 8:
        return np.zeros((0, 4), np.float32)
    x1, y1, x2, y2 = clamp_box(box, gray.shape, 3.0)
    roi = gray[y1:y2, x1:x2]
    edges = cv2.Canny(cv2.GaussianBlur(roi, (3, 3), 0), 50, 150)
    ix1, iy1, ix2, iy2 = clamp_box(box, gray.shape, 1.15)
    edges[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] = 0
    lines = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 180,
        threshold=max(20, int(face_h * 0.3)),
        minLineLength=face_h * 0.5,
        maxLineGap=4,
    )
    if lines is None:
        return np.zeros((0, 4), np.float32)
    segs = lines.reshape(-1, 4).astype(np.float32)
    segs[:, [0, 2]] += x1
    segs[:, [1, 3]] += y1
    return segs


def _segments_match(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    """For each segment in `a`: is there one in `b` at the same place (either direction)?"""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a), bool)
    d1 = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
    d2 = np.abs(a[:, None, :] - b[None, :, [2, 3, 0, 1]]).max(axis=2)
    return (np.minimum(d1, d2) <= tol).any(axis=1)


def moving_border_length(frames_segs: list[np.ndarray], face_h: float) -> float:
    """Longest straight edge near the face that is not fixed in the image, in face heights.

    A segment seen at the same image position in most analysed frames belongs to the
    room (door, wall, window) and is ignored; what remains moved between frames, as a
    hand-held sheet or phone edge does.
    """
    if not frames_segs or face_h <= 0:
        return float("nan")
    best = 0.0
    n = len(frames_segs)
    for i, segs in enumerate(frames_segs):
        if len(segs) == 0:
            continue
        seen = np.zeros(len(segs), np.int32)
        for j, other in enumerate(frames_segs):
            if j != i:
                seen += _segments_match(segs, other, tol=3.0)
        moving = seen < max(1, int(0.6 * (n - 1)))
        if moving.any():
            lengths = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])[moving]
            best = max(best, float(lengths.max()) / face_h)
    return best


# ---------------------------------------------------------------- motion cues


def planar_parallax(ref_pts: np.ndarray, cur_pts: np.ndarray, ied: float) -> float:
    """How far tracked face points are from lying on one plane, in inter-eye distances.

    Fits a homography ref→cur robustly and returns the 80th-percentile residual. A
    photo tilted, bent slightly or moved stays near 0 (one plane); a head turning by
    15–25° leaves the nose, cheeks and jaw well off any single homography.
    """
    if len(ref_pts) < _MIN_TRACKED or ied <= 0:
        return float("nan")
    H, _ = cv2.findHomography(ref_pts, cur_pts, cv2.RANSAC, max(1.0, 0.015 * ied))
    if H is None:
        return float("nan")
    proj = cv2.perspectiveTransform(ref_pts.reshape(-1, 1, 2), H).reshape(-1, 2)
    resid = np.linalg.norm(proj - cur_pts, axis=1)
    return float(np.percentile(resid, 80) / ied)


def track(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas–Kanade with a forward–backward check; returns (new points, kept mask)."""
    if len(pts) == 0:
        return pts, np.zeros(0, bool)
    p0 = pts.reshape(-1, 1, 2).astype(np.float32)
    lk = {"winSize": (15, 15), "maxLevel": 3}
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)
    p0r, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)
    fb = np.linalg.norm((p0 - p0r).reshape(-1, 2), axis=1)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb < _FB_MAX_ERR_PX)
    return p1.reshape(-1, 2), ok


def seed_points(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Corners inside the inner face ellipse (no background, no hair edge)."""
    mask = np.zeros(gray.shape[:2], np.uint8)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    axes = (int((box[2] - box[0]) * 0.38), int((box[3] - box[1]) * 0.42))
    if min(axes) < 4:
        return np.zeros((0, 2), np.float32)
    cv2.ellipse(mask, (int(cx), int(cy)), axes, 0, 0, 360, 255, -1)
    pts = cv2.goodFeaturesToTrack(
        gray, maxCorners=120, qualityLevel=0.005, minDistance=4, mask=mask, blockSize=5
    )
    return np.zeros((0, 2), np.float32) if pts is None else pts.reshape(-1, 2)


# ---------------------------------------------------------------- accumulation


@dataclass
class PassiveEvidence:
    """Cue measurements gathered frame by frame during one liveness session."""

    prev_gray: np.ndarray | None = None
    ref_pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    cur_pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    parallax: list[float] = field(default_factory=list)
    motion: list[float] = field(default_factory=list)
    moire: list[float] = field(default_factory=list)
    glare: list[float] = field(default_factory=list)
    gamut: list[float] = field(default_factory=list)
    segments: list[np.ndarray] = field(default_factory=list)
    face_heights: list[float] = field(default_factory=list)
    frames: int = 0

    def add(self, frame_bgr: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> None:
        """Measure one frame; `box`/`landmarks` are in `frame_bgr`'s pixel coordinates."""
        scale = min(1.0, WORK_LONG_SIDE / max(frame_bgr.shape[:2]))
        if scale < 1.0:
            frame_bgr = cv2.resize(
                frame_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
            )
        box = np.asarray(box, np.float32) * scale
        lm = np.asarray(landmarks, np.float32) * scale
        ied = float(np.linalg.norm(lm[1] - lm[0]))
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        self.frames += 1
        self.face_heights.append(float(box[3] - box[1]))

        if self.prev_gray is not None and self.prev_gray.shape == gray.shape and len(self.cur_pts):
            new, ok = track(self.prev_gray, gray, self.cur_pts)
            if ok.sum() >= _MIN_TRACKED:
                step = np.linalg.norm(new[ok] - self.cur_pts[ok], axis=1)
                self.motion.append(float(np.median(step)) / max(ied, 1e-6))
            self.ref_pts, self.cur_pts = self.ref_pts[ok], new[ok]
            value = planar_parallax(self.ref_pts, self.cur_pts, ied)
            if not np.isnan(value):
                self.parallax.append(value)
        if len(self.cur_pts) < _MIN_TRACKED:
            self.ref_pts = self.cur_pts = seed_points(gray, box)
        self.prev_gray = gray

        x1, y1, x2, y2 = clamp_box(box, gray.shape, 0.7)
        if x2 - x1 >= 16 and y2 - y1 >= 16:
            self.moire.append(moire_peakiness(gray[y1:y2, x1:x2]))
            face = frame_bgr[y1:y2, x1:x2]
            # on the skin only: a white wall behind the applicant is not a reflection
            skin = skin_ellipse(face.shape, lm - np.float32([x1, y1]))
            self.glare.append(glare_fraction(face, skin))
            self.gamut.append(colour_gamut(face))
        if self.frames % _BORDER_EVERY == 1:
            self.segments.append(border_segments(gray, box))

    def measures(self) -> dict[str, float]:
        """Raw cue values for the session (NaN where a cue could not be computed)."""

        def stat(values: list[float], q: float) -> float:
            vals = [v for v in values if not np.isnan(v)]
            return float(np.percentile(vals, q)) if vals else float("nan")

        face_h = float(np.median(self.face_heights)) if self.face_heights else 0.0
        return {
            # the largest departures from one plane, robust to a single bad track
            "parallax": stat(self.parallax, 90) if len(self.parallax) >= 3 else float("nan"),
            "micro_motion": stat(self.motion, 50) if len(self.motion) >= 3 else float("nan"),
            "moire": stat(self.moire, 50),
            "glare": stat(self.glare, 50),
            "gamut": stat(self.gamut, 50),
            "border": moving_border_length(self.segments, face_h)
            if len(self.segments) >= 3
            else float("nan"),
        }
