"""The optics between a scene and the kiosk's frames: flat objects held in front of the
camera (prints, folded prints, tablets, masks) and the camera itself.

`CameraModel.capture` turns a scene rendered at `supersample`× the camera's resolution
into one camera frame the way a sensor does: lens blur first (a Gaussian PSF, σ drawn
per presentation), then integration over each pixel's area (an area-average down to the
camera's resolution), then exposure drift (auto-exposure hunting and a slow gain wander),
shot and read noise, and JPEG compression (the door's frames arrive as MJPEG from most
USB cameras). Nothing is point-sampled.

Fine periodic structure (a laser print's 150+ lpi halftone, a ≥1080-px display's
sub-pixel grid) is drawn into the scene only where its period is at least 2 scene
pixels; finer than that it cannot be represented, and it is replaced by its mean
(the pixel and the lens average it away anyway: a period under one camera pixel behind a
σ ≥ 0.5 px lens keeps under 1% of its contrast). `period_camera_px` reports, per
presentation, where the structure fell, so the JSON says which attacks could alias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.evaluation.attacks_render import Geometry

MM_PER_INCH = 25.4
_NOISE_MARGIN = 64  # px: the noise bank is this much larger than a frame, for offsets


@dataclass(frozen=True)
class CameraModel:
    """A kiosk camera: frame size and rate, and how finely scenes are rendered for it."""

    geometry: Geometry
    fps: float
    supersample: int = 2

    @property
    def scene(self) -> Geometry:
        return self.geometry.scaled(self.supersample)

    def session(self, rng: np.random.Generator) -> CaptureState:
        return CaptureState(
            self,
            lens_sigma=float(rng.uniform(0.5, 0.9)),
            gain=float(rng.uniform(0.85, 1.1)),
            drift=(
                float(rng.uniform(0.03, 0.08)),
                float(rng.uniform(2.0, 6.0)),
                float(rng.uniform(0, 2 * math.pi)),
            ),
            read_noise=float(rng.uniform(1.0, 2.5)),
            shot=float(rng.uniform(0.02, 0.06)),
            jpeg_quality=int(rng.integers(70, 93)),
            rng=rng,
        )


@dataclass
class CaptureState:
    """One presentation's camera: its lens, exposure behaviour, noise and JPEG quality."""

    camera: CameraModel
    lens_sigma: float  # camera pixels
    gain: float
    drift: tuple[float, float, float]  # amplitude, period s, phase
    read_noise: float  # grey levels
    shot: float  # variance per grey level
    jpeg_quality: int
    rng: np.random.Generator
    _bank: np.ndarray | None = None

    def _noise(self, shape: tuple[int, ...]) -> np.ndarray:
        """Unit Gaussian noise for one frame: a window at a random offset into a bank of
        two noise fields drawn once per presentation. Drawing 2.8 M normals per 720p
        frame was the slowest part of the whole evaluation; shifted windows of one field
        are as unrelated from frame to frame as the cues can tell (each is i.i.d. in
        space, and no cue compares noise at pixel offsets of up to 64 px)."""
        h, w = shape[:2]
        if self._bank is None or self._bank.shape[1:3] != (h + _NOISE_MARGIN, w + _NOISE_MARGIN):
            size = (2, h + _NOISE_MARGIN, w + _NOISE_MARGIN, *shape[2:])
            self._bank = self.rng.standard_normal(size, dtype=np.float32)
        dy, dx = (int(v) for v in self.rng.integers(0, _NOISE_MARGIN, 2))
        return self._bank[int(self.rng.integers(0, 2)), dy : dy + h, dx : dx + w]

    def capture(self, scene: np.ndarray, t: float) -> np.ndarray:
        """One camera frame (uint8 BGR at the camera's size) of `scene` at time `t`."""
        cam = self.camera
        k = cam.supersample
        img = cv2.GaussianBlur(scene, (0, 0), self.lens_sigma * k)
        if k > 1:
            size = (cam.geometry.width, cam.geometry.height)
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        amp, period, phase = self.drift
        exposure = self.gain * (1 + amp * math.sin(2 * math.pi * t / period + phase))
        lin = img.astype(np.float32)
        lin *= exposure
        sigma = cv2.sqrt(cv2.add(cv2.multiply(np.clip(lin, 0, 255), self.shot), self.read_noise**2))
        lin += self._noise(lin.shape) * sigma
        out = np.clip(lin, 0, 255, out=lin).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        return cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else out


def period_camera_px(period_mm: float, mm_per_camera_px: float) -> float:
    return period_mm / mm_per_camera_px


def rotation(yaw_deg: float, pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    ty, tp, tr = (math.radians(v) for v in (yaw_deg, pitch_deg, roll_deg))
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rp = np.array([[1, 0, 0], [0, math.cos(tp), -math.sin(tp)], [0, math.sin(tp), math.cos(tp)]])
    rr = np.array([[math.cos(tr), -math.sin(tr), 0], [math.sin(tr), math.cos(tr), 0], [0, 0, 1]])
    return rp @ ry @ rr


def sheet_homographies(
    sheet_wh: tuple[int, int],
    scene: Geometry,
    *,
    scale: float,
    anchor: tuple[float, float],
    pose: tuple[float, float, float],
    shift: tuple[float, float],
    distance: float,
    fold_u: float | None = None,
    fold_deg: float = 0.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Homographies (and sheet-pixel quads) that image a flat sheet, or a sheet folded
    once along the vertical line u = `fold_u` (a mountain fold: the fold comes towards
    the camera, each half turned back by `fold_deg`/2), through a pinhole camera.

    The sheet point `anchor` (sheet px) is imaged at the scene's centre column and eye
    height plus `shift`; `scale` scene px per sheet px when frontal; `pose` is the
    attacker's yaw/pitch/roll of the whole sheet; `distance` the sheet's distance in
    focal lengths × scene width (close sheets show more perspective).
    """
    w, h = sheet_wh
    focal = distance * scene.width
    halves = [(0.0, float(w), 0.0)]
    if fold_u is not None:
        halves = [(0.0, fold_u, fold_deg / 2), (fold_u, float(w), -fold_deg / 2)]
    rot = rotation(*pose)
    out = []
    for u0, u1, bend in halves:
        quad = np.array([[u0, 0], [u1, 0], [u1, h], [u0, h]], np.float64)
        pts = np.zeros((4, 3))
        pts[:, 0] = (quad[:, 0] - anchor[0]) * scale
        pts[:, 1] = (quad[:, 1] - anchor[1]) * scale
        if fold_u is not None:
            hinge = (fold_u - anchor[0]) * scale
            b = math.radians(bend)
            dx = pts[:, 0] - hinge
            pts[:, 0] = hinge + dx * math.cos(b)
            pts[:, 2] = -np.abs(dx) * abs(math.sin(b))  # both halves lean away from the camera
        cam = pts @ rot.T
        z = focal - cam[:, 2]
        proj = np.stack(
            [
                scene.width / 2 + shift[0] + focal * cam[:, 0] / z,
                scene.eye_y + shift[1] + focal * cam[:, 1] / z,
            ],
            axis=1,
        )
        H = cv2.getPerspectiveTransform(quad.astype(np.float32), proj.astype(np.float32))
        out.append((H, quad))
    return out


def composite_sheet(
    background: np.ndarray,
    sheet: np.ndarray,
    parts: list[tuple[np.ndarray, np.ndarray]],
    alpha: np.ndarray | None = None,
) -> np.ndarray:
    """`sheet` (each part through its homography) over `background`; `alpha` (0..1 per
    sheet pixel) cuts holes (a mask's eyes) and shapes (a mask's outline)."""
    size = (background.shape[1], background.shape[0])
    out = background.astype(np.float32)
    base = np.ones(sheet.shape[:2], np.float32) if alpha is None else alpha.astype(np.float32)
    for H, quad in parts:
        part = np.zeros(sheet.shape[:2], np.float32)
        u0, u1 = int(quad[0, 0]), math.ceil(quad[1, 0])
        part[:, u0:u1] = base[:, u0:u1]
        warped = cv2.warpPerspective(sheet, H, size, flags=cv2.INTER_LINEAR)
        a = cv2.warpPerspective(part, H, size, flags=cv2.INTER_LINEAR)[..., None]
        out = out * (1 - a) + warped.astype(np.float32) * a
    return np.clip(out, 0, 255).astype(np.uint8)


def print_look(image: np.ndarray, rng: np.random.Generator, period_px: float) -> np.ndarray:
    """A photo as an office printer gives it back: ink gamut, paper white, paper fibre, and
    a 45° amplitude-modulated dot screen of `period_px` sheet pixels (replaced by its mean
    when it is finer than 2 px: see the module docstring)."""
    img = image.astype(np.float32)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.55, 0.8)  # ink gamut: less saturated
    img = 0.78 * img + 0.16 * 235 + rng.uniform(-8, 8)  # compressed range on paper white
    h, w = img.shape[:2]
    if period_px >= 2.0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u, v = (xx + yy) / math.sqrt(2), (xx - yy) / math.sqrt(2)
        dots = np.cos(2 * math.pi * u / period_px) * np.cos(2 * math.pi * v / period_px)
        img *= (1 + rng.uniform(0.08, 0.18) * dots)[..., None]
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3)
    img *= (1 + 0.04 * fibre / (fibre.std() + 1e-6))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def display_look(
    image: np.ndarray, gamma: float, pitch_px: float, grid_contrast: float
) -> np.ndarray:
    """A frame on a tablet: display gamma, a cooler white point, and the RGB stripe
    sub-pixel grid at `pitch_px` scene pixels per display pixel (drawn when each
    sub-pixel is at least 2/3 px, i.e. the pixel at least 2 px; else its mean: the
    fill factor only dims the picture)."""
    img = (image.astype(np.float32) / 255.0) ** gamma * 255.0
    img *= np.array([1.06, 1.0, 0.93], np.float32)  # BGR: cooler white point
    if pitch_px >= 2.0:
        _h, w = img.shape[:2]
        xx = np.arange(w, dtype=np.float32)
        phase = (xx / pitch_px) % 1.0
        grid = np.zeros((1, w, 3), np.float32)
        for ch, lo in ((2, 0.0), (1, 1 / 3), (0, 2 / 3)):  # R, G, B stripes
            grid[0, :, ch] = ((phase >= lo) & (phase < lo + 1 / 3)) * 3.0
        img = img * (1 - grid_contrast + grid_contrast * grid)
    else:
        img *= 1 - 0.15 * grid_contrast
    return np.clip(img, 0, 255).astype(np.uint8)


def add_glare(
    image: np.ndarray, centre: tuple[float, float], radius: float, strength: float
) -> np.ndarray:
    """A soft specular reflection of a ceiling light (white, colourless)."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-(((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2)))
    out = image.astype(np.float32) + strength * 255.0 * blob[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


__all__ = [
    "CameraModel",
    "CaptureState",
    "add_glare",
    "composite_sheet",
    "display_look",
    "period_camera_px",
    "print_look",
    "rotation",
    "sheet_homographies",
]
