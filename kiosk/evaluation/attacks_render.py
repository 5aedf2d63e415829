"""Image synthesis for the liveness test set: a 3D-consistent head turn rendered from one
photo, and the optics of a printed sheet and a phone screen held in front of a camera.

How a genuine head turn is rendered (docs/LIVENESS.md has the full account): the photo
is normalised so the eyes are level, the eye midpoint sits at a fixed spot and the
inter-eye distance (IED) is `FACE_IED` px; beyond the photo's edge its border pixels are
repeated (a mirrored border would add mirrored faces). A depth map is built from the
landmarks: an ellipsoid head (half-width 1.25·IED, half-height 1.85·IED, depth 1.4·IED,
centred 0.15·IED below the eyes) plus a Gaussian nose ridge whose tip stands 0.55·IED in
front of the eye plane (the adult-mean depth quality.py assumes). Each pixel is a 3D
point (x, y, z); a yaw/pitch rotation about the head centre moves it, and the image is
resampled by inverting that motion with a fixed-point iteration (the depth field is
smooth, so 4 iterations converge). The background outside a feathered head ellipse
stays still, as a room does behind a person who turns their head. Self-occlusion at the
far cheek is ignored; at the ≤ 35° used here it hides only a few pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480
FACE_IED = 64.0
EYE_MID = (320.0, 200.0)
FOCAL_PX = 700.0  # pinhole camera for sheets/phones held in front of the lens


def normalise_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo rotated/scaled so the eyes are level at EYE_MID, IED = FACE_IED.

    Returns the FRAME_W×FRAME_H canvas and the landmarks in canvas coordinates.
    """
    eye_l, eye_r = landmarks[0].astype(np.float64), landmarks[1].astype(np.float64)
    vec = eye_r - eye_l
    scale = FACE_IED / max(float(np.hypot(*vec)), 1e-6)
    angle = math.degrees(math.atan2(vec[1], vec[0]))
    mid = (eye_l + eye_r) / 2
    m = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), angle, scale)
    m[:, 2] += np.array(EYE_MID) - mid
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    canvas = cv2.warpAffine(
        image, m, (FRAME_W, FRAME_H), flags=interp, borderMode=cv2.BORDER_REPLICATE
    )
    lm = np.hstack([landmarks.astype(np.float64), np.ones((5, 1))]) @ m.T
    return canvas, lm.astype(np.float32)


@dataclass(frozen=True)
class HeadModel:
    """Depth-from-landmarks head: an ellipsoid plus a nose ridge, in canvas pixels."""

    cx: float
    cy: float
    a: float
    b: float
    c: float
    nose: tuple[float, float]
    nose_amp: float
    nose_sigma: float

    @classmethod
    def from_landmarks(cls, lm: np.ndarray) -> HeadModel:
        d = float(np.linalg.norm(lm[1] - lm[0]))
        eye_mid = (lm[0] + lm[1]) / 2
        cx, cy = float(eye_mid[0]), float(eye_mid[1] + 0.15 * d)
        a, b, c = 1.25 * d, 1.85 * d, 1.4 * d
        nx, ny = float(lm[2][0]), float(lm[2][1])
        z_eye = c * math.sqrt(max(0.0, 1 - (0.5 * d / a) ** 2 - ((eye_mid[1] - cy) / b) ** 2))
        z_nose = c * math.sqrt(max(0.0, 1 - ((nx - cx) / a) ** 2 - ((ny - cy) / b) ** 2))
        amp = 0.55 * d + z_eye - z_nose
        return cls(cx, cy, a, b, c, (nx, ny), amp, 0.32 * d)

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = (x - self.cx) / self.a, (y - self.cy) / self.b
        z = self.c * np.sqrt(np.clip(1 - u * u - v * v, 0, None))
        nx, ny = self.nose
        # the ridge runs from between the eyes down to the tip, and drops off quickly
        # below the tip so the mouth stays back on the face's surface
        sy = np.where(y < ny, 1.6 * self.nose_sigma, 0.8 * self.nose_sigma)
        r2 = ((x - nx) / self.nose_sigma) ** 2 + ((y - ny) / sy) ** 2
        return z + self.nose_amp * np.exp(-0.5 * r2)

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """1 on the head, 0 on the room, feathered between 1.0 and 1.35 ellipse radii."""
        r = np.sqrt(((x - self.cx) / self.a) ** 2 + ((y - self.cy) / (self.b * 1.05)) ** 2)
        return np.clip((1.35 - r) / 0.35, 0, 1)


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    ty, tp = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rp = np.array([[1, 0, 0], [0, math.cos(tp), -math.sin(tp)], [0, math.sin(tp), math.cos(tp)]])
    return rp @ ry


def render_head(
    canvas: np.ndarray,
    head: HeadModel,
    yaw_deg: float,
    pitch_deg: float,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The canvas with the head turned by yaw (+ = nose to image right) and pitch (+ = up)."""
    h, w = canvas.shape[:2]
    step = 2  # maps are computed at half resolution, then upsampled (smooth fields)
    ys, xs = np.mgrid[0:h:step, 0:w:step].astype(np.float64)
    rot = _rotation(yaw_deg, pitch_deg)
    sx, sy = xs.copy(), ys.copy()
    for _ in range(4):
        z = head.depth(sx, sy)
        px, py = sx - head.cx, sy - head.cy
        fx = rot[0, 0] * px + rot[0, 1] * py + rot[0, 2] * z
        fy = rot[1, 0] * px + rot[1, 1] * py + rot[1, 2] * z
        wgt = head.weight(sx, sy)
        dx = wgt * (fx - px + shift[0])
        dy = wgt * (fy - py + shift[1])
        sx, sy = xs - dx, ys - dy
    map_x = cv2.resize(sx.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    map_y = cv2.resize(sy.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def camera_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    """Sensor noise, so no two frames are bit-identical (as from any real camera)."""
    noise = rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def room_background(rng: np.random.Generator) -> np.ndarray:
    """A plain wall with a soft light gradient, a door frame edge and some clutter."""
    base = rng.uniform(90, 200, 3)
    grad = (
        np.linspace(0.8, 1.15, FRAME_W)[None, :, None]
        * np.linspace(1.1, 0.85, FRAME_H)[:, None, None]
    )
    room = np.clip(base[None, None, :] * grad, 0, 255).astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):  # blurred furniture / posters
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        cv2.rectangle(
            room,
            (x, y),
            (x + int(rng.integers(40, 200)), y + int(rng.integers(40, 200))),
            tuple(float(v) for v in rng.uniform(30, 230, 3)),
            -1,
        )
    door_x = int(rng.choice([rng.integers(20, 110), rng.integers(530, 620)]))
    cv2.line(room, (door_x, 0), (door_x, FRAME_H), (60.0, 60.0, 60.0), 3)
    room = cv2.GaussianBlur(room, (0, 0), 1.2)
    return np.clip(room, 0, 255).astype(np.uint8)


def plane_homography(
    src_w: int,
    src_h: int,
    width_px: float,
    centre: tuple[float, float],
    yaw_deg: float,
    pitch_deg: float,
    roll_deg: float,
) -> np.ndarray:
    """Homography mapping a src_w×src_h image onto a flat sheet seen by the camera.

    The sheet is `width_px` wide when frontal at the reference distance, centred on
    `centre` in the frame, rotated in 3D (yaw about the vertical, pitch about the
    horizontal axis) and projected through a pinhole of focal FOCAL_PX.
    """
    s = width_px / src_w
    corners = (
        np.array(
            [
                [-src_w / 2, -src_h / 2],
                [src_w / 2, -src_h / 2],
                [src_w / 2, src_h / 2],
                [-src_w / 2, src_h / 2],
            ]
        )
        * s
    )
    pts3 = np.hstack([corners, np.zeros((4, 1))])
    rr = math.radians(roll_deg)
    roll = np.array([[math.cos(rr), -math.sin(rr), 0], [math.sin(rr), math.cos(rr), 0], [0, 0, 1]])
    # yaw sign as for heads: + turns the sheet's face-side towards the image right
    rot = _rotation(yaw_deg, pitch_deg) @ roll
    cam = pts3 @ rot.T
    dist = FOCAL_PX  # reference distance: 1 px on the sheet = 1 px in the image when frontal
    z = dist - cam[:, 2]
    proj = np.stack(
        [centre[0] + FOCAL_PX * cam[:, 0] / z, centre[1] + FOCAL_PX * cam[:, 1] / z], axis=1
    )
    src = np.array([[0, 0], [src_w, 0], [src_w, src_h], [0, src_h]], np.float32)
    return cv2.getPerspectiveTransform(src, proj.astype(np.float32))


def composite(
    background: np.ndarray, sheet: np.ndarray, H: np.ndarray, *, interp: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """`sheet` warped by H over `background` (hard edge: a sheet or phone has one)."""
    size = (background.shape[1], background.shape[0])
    warped = cv2.warpPerspective(sheet, H, size, flags=interp)
    mask = cv2.warpPerspective(
        np.full(sheet.shape[:2], 255, np.uint8), H, size, flags=cv2.INTER_NEAREST
    )
    out = background.copy()
    out[mask > 0] = warped[mask > 0]
    return out


def print_look(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo as it comes out of an office printer: ink gamut, paper white, halftone
    (laser) or grain (inkjet), paper fibre texture, a white margin."""
    img = image.astype(np.float32)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.55, 0.8)  # ink gamut: less saturated
    img = 0.78 * img + 0.16 * 235 + rng.uniform(-8, 8)  # compressed range on paper white
    h, w = img.shape[:2]
    if rng.random() < 0.5:  # laser: an amplitude-modulated dot screen at 45°
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = rng.uniform(2.6, 3.6)
        u, v = (xx + yy) / math.sqrt(2), (xx - yy) / math.sqrt(2)
        dots = np.cos(2 * math.pi * u / period) * np.cos(2 * math.pi * v / period)
        img *= (1 + rng.uniform(0.08, 0.18) * dots)[..., None]
    else:  # inkjet: stochastic grain
        img *= (1 + rng.normal(0, 0.06, (h, w)).astype(np.float32))[..., None]
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3)
    img *= (1 + 0.05 * fibre / (fibre.std() + 1e-6))[..., None]
    margin = int(rng.integers(6, 16))
    img = cv2.copyMakeBorder(
        img, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(238, 240, 242)
    )
    return np.clip(img, 0, 255).astype(np.uint8)


def screen_look(
    image: np.ndarray, rng: np.random.Generator, gamma: float, grid_contrast: float
) -> np.ndarray:
    """A frame on a phone screen: display gamma and a cooler white point, RGB stripe
    sub-pixels (3 columns per display pixel) and a black matrix between pixel rows,
    blended with `grid_contrast` (what the camera's optics leave of the sub-pixel
    structure), and a black bezel. The returned image has 3×2 samples per display pixel,
    finer than the camera's pixels, so warping it into the frame aliases the grid into
    moiré the way a real camera does."""
    img = (image.astype(np.float32) / 255.0) ** gamma * 255.0
    img *= np.array([1.06, 1.0, 0.93], np.float32)  # BGR: cooler white point
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * 3, h * 2), interpolation=cv2.INTER_NEAREST)
    grid = np.zeros((h * 2, w * 3, 3), np.float32)
    for ch, col in ((2, 0), (1, 1), (0, 2)):  # R, G, B columns (BGR channel index)
        grid[:, col::3, ch] = 3.0
    grid[1::2, :, :] *= 0.6  # the black matrix between rows of pixels
    grid /= grid.mean(axis=(0, 1), keepdims=True)
    big = np.clip(big * (1 - grid_contrast + grid_contrast * grid), 0, 255)
    bezel = int(rng.integers(14, 28))
    big = cv2.copyMakeBorder(
        big, bezel, bezel, bezel, bezel, cv2.BORDER_CONSTANT, value=(18, 18, 20)
    )
    return big.astype(np.uint8)


def add_glare(
    image: np.ndarray, centre: tuple[float, float], radius: float, strength: float
) -> np.ndarray:
    """A soft specular reflection of a ceiling light (white, colourless)."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-(((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2)))
    out = image.astype(np.float32) + strength * 255.0 * blob[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)
