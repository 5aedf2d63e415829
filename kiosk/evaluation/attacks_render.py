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


@dataclass(frozen=True)
class Geometry:
    """Where a normalised face sits in a rendered frame: size, inter-eye distance, eye
    height. `VGA` is the demo camera's; `HD` is a 1280×720 kiosk camera with the
    applicant at ~70 cm (IED 63 mm ≈ 90 px for a ~70° lens)."""

    width: int = FRAME_W
    height: int = FRAME_H
    ied: float = FACE_IED
    eye_y: float = EYE_MID[1]

    def scaled(self, k: float) -> Geometry:
        return Geometry(round(self.width * k), round(self.height * k), self.ied * k, self.eye_y * k)


VGA = Geometry()
HD = Geometry(1280, 720, 90.0, 300.0)


def normalise_face(
    image: np.ndarray, landmarks: np.ndarray, geometry: Geometry = VGA
) -> tuple[np.ndarray, np.ndarray]:
    """The photo rotated/scaled so the eyes are level at the geometry's eye spot with
    its inter-eye distance. Returns the canvas and the landmarks in canvas coordinates.
    """
    eye_l, eye_r = landmarks[0].astype(np.float64), landmarks[1].astype(np.float64)
    vec = eye_r - eye_l
    scale = geometry.ied / max(float(np.hypot(*vec)), 1e-6)
    angle = math.degrees(math.atan2(vec[1], vec[0]))
    mid = (eye_l + eye_r) / 2
    m = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), angle, scale)
    m[:, 2] += np.array([geometry.width / 2, geometry.eye_y]) - mid
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    canvas = cv2.warpAffine(
        image, m, (geometry.width, geometry.height), flags=interp, borderMode=cv2.BORDER_REPLICATE
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


def room_background(rng: np.random.Generator, geometry: Geometry = VGA) -> np.ndarray:
    """A plain wall with a soft light gradient, a door frame edge and some clutter."""
    w, h, k = geometry.width, geometry.height, geometry.width / FRAME_W
    base = rng.uniform(90, 200, 3)
    grad = np.linspace(0.8, 1.15, w)[None, :, None] * np.linspace(1.1, 0.85, h)[:, None, None]
    room = np.clip(base[None, None, :] * grad, 0, 255).astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):  # blurred furniture / posters
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = (int(rng.integers(40, 200) * k), int(rng.integers(40, 200) * k))
        colour = tuple(float(v) for v in rng.uniform(30, 230, 3))
        cv2.rectangle(room, (x, y), (x + size[0], y + size[1]), colour, -1)
    door_x = int(rng.choice([rng.uniform(0.03, 0.17), rng.uniform(0.83, 0.97)]) * w)
    cv2.line(room, (door_x, 0), (door_x, h), (60.0, 60.0, 60.0), max(1, int(3 * k)))
    room = cv2.GaussianBlur(room, (0, 0), 1.2 * k)
    return np.clip(room, 0, 255).astype(np.uint8)


def _feathered_ellipse(
    shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float], soft: float
) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    cv2.ellipse(
        mask,
        (round(centre[0]), round(centre[1])),
        (max(1, round(axes[0])), max(1, round(axes[1]))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    return cv2.GaussianBlur(mask, (0, 0), max(0.5, soft))


def expression(canvas: np.ndarray, lm: np.ndarray, blink: float, mouth: float) -> np.ndarray:
    """The frontal canvas with the eyes `blink` (0 open .. 1 closed) and the mouth `mouth`
    (0 closed .. 1 wide open), before the head is turned by `render_head`.

    Closed lids: each eye is covered by skin sampled below it, with a dark lash line.
    Open mouth: below the lip line the face is pulled down (the jaw drops) and the gap
    between the lips is filled with the dark inside of the mouth. Only the regions
    around the eyes and the mouth are touched (cost stays small at 1280×720).
    """
    if blink <= 0.01 and mouth <= 0.01:
        return canvas
    img = canvas.copy()
    d = float(np.linalg.norm(lm[1] - lm[0]))
    if mouth > 0.01:
        m1, m2 = lm[3].astype(np.float64), lm[4].astype(np.float64)
        mc, mw = (m1 + m2) / 2, float(np.linalg.norm(m2 - m1))
        x0, x1 = int(max(0, mc[0] - 1.3 * d)), int(min(img.shape[1], mc[0] + 1.3 * d))
        y0, y1 = int(max(0, mc[1] - 0.3 * d)), int(min(img.shape[0], mc[1] + 2.2 * d))
        roi = img[y0:y1, x0:x1].astype(np.float32)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        drop = mouth * 0.6 * mw
        below = np.clip((yy - mc[1]) / (0.08 * mw) + 0.5, 0, 1)
        fade_x = np.clip(1.2 - np.abs(xx - mc[0]) / (0.9 * d), 0, 1)
        fade_y = np.clip(1 - (yy - mc[1] - 1.4 * d) / (0.5 * d), 0, 1)
        # both maps float32: mixed map types make cv2.remap read garbage
        map_y = (yy - drop * below * fade_x * fade_y - y0).astype(np.float32)
        map_x = (xx - x0).astype(np.float32)
        roi = cv2.remap(roi, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gap = _feathered_ellipse(
            roi.shape[:2], (mc[0] - x0, mc[1] + drop / 2 - y0), (0.42 * mw, drop / 2), 0.04 * mw
        )[..., None]
        roi = roi * (1 - gap) + np.array([35, 30, 60], np.float32) * gap
        img[y0:y1, x0:x1] = np.clip(np.nan_to_num(roi), 0, 255).astype(np.uint8)
    if blink > 0.01:
        for eye in (lm[0], lm[1]):
            x0, y0 = int(max(0, eye[0] - 0.5 * d)), int(max(0, eye[1] - 0.35 * d))
            x1, y1 = int(min(img.shape[1], eye[0] + 0.5 * d)), int(eye[1] + 0.5 * d)
            roi = img[y0:y1, x0:x1].astype(np.float32)
            if roi.shape[0] < 4 or roi.shape[1] < 4:
                continue  # the eye is outside the canvas
            skin = roi[-max(2, int(0.1 * d)) :].reshape(-1, 3).mean(axis=0) * 0.92
            centre = (eye[0] - x0, eye[1] - y0)
            lid = blink * _feathered_ellipse(roi.shape[:2], centre, (0.3 * d, 0.16 * d), 0.04 * d)
            roi = roi * (1 - lid[..., None]) + skin * lid[..., None]
            lash = np.zeros(roi.shape[:2], np.float32)
            axes = (max(1, round(0.27 * d)), max(1, round(0.06 * d)))
            cv2.ellipse(
                lash,
                (round(centre[0]), round(centre[1])),
                axes,
                0,
                10,
                170,
                1.0,
                max(1, round(0.04 * d)),
            )
            lash = blink * cv2.GaussianBlur(lash, (0, 0), 0.6)[..., None]
            roi = roi * (1 - lash) + 40.0 * lash
            img[y0:y1, x0:x1] = np.clip(roi, 0, 255).astype(np.uint8)
    return img
