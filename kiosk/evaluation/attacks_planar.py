"""Flat presentation attacks: prints (flat or folded), a worn eye-hole mask, and a replay
of recorded clips on a tablet. All are held close to the camera with their edges out of
view, so no border or bezel gives them away (attacks.py describes each kind).

Physical sizes fix where fine structure falls (attacks_optics.py): a sheet or tablet that
fills 1.2–1.3× the camera's view is ~250–300 mm wide, so a 150–200 lpi halftone
(0.13–0.17 mm) and a 1920×1200 10" tablet's pixels (0.11 mm) are each under one camera
pixel at 1280×720: `fine_period_camera_px` records it per presentation.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from kiosk.evaluation.attacks_motion import (
    FaceSource,
    HeadMotion,
    capture_for,
    reaction_time,
    render_pose,
    shoot,
)
from kiosk.evaluation.attacks_optics import (
    MM_PER_INCH,
    CameraModel,
    add_glare,
    composite_sheet,
    display_look,
    print_look,
    rotation,
    sheet_homographies,
)
from kiosk.evaluation.attacks_render import VGA, Geometry, room_background

_FOCAL = 0.72  # focal length / frame width: a ~70° webcam lens


def _scene_of(source: FaceSource) -> Geometry:
    h, w = source.canvas.shape[:2]
    return Geometry(
        w,
        h,
        float(np.linalg.norm(source.landmarks[1] - source.landmarks[0])),
        float((source.landmarks[0][1] + source.landmarks[1][1]) / 2),
    )


class _Hand:
    """An attacker's hand: tilts the object for turn and nod prompts (a flat object
    cannot turn like a head), with tremor and drift."""

    def __init__(self, rng: np.random.Generator, tilt: float, scale: float) -> None:
        self.rng = rng
        self.motion = HeadMotion(rng, scale)
        self.motion.turn_yaw = tilt
        self.motion.up_pitch = self.motion.down_pitch = tilt * 0.8
        self.phase = rng.uniform(0, 2 * math.pi, 3)
        self.scale = scale

    def pose(
        self, prompt: str | None, t: float
    ) -> tuple[tuple[float, float, float], tuple[float, float]]:
        p = self.motion.update(prompt, t)
        tremor = self.rng.normal(0, 0.5, 3)
        k = self.scale
        dx = k * (6 * math.sin(2 * math.pi * 0.3 * t + self.phase[0]) + tremor[0])
        dy = k * (4 * math.sin(2 * math.pi * 0.2 * t + self.phase[1]) + tremor[1])
        roll = 2 * math.sin(2 * math.pi * 0.15 * t + self.phase[2]) + tremor[2]
        return (p.yaw, p.pitch, roll), (dx, dy)


class PrintPresenter:
    """A print of the applicant's photo (flat, or folded along the nose) held close."""

    def __init__(
        self,
        source: FaceSource,
        rng: np.random.Generator,
        camera: CameraModel | None = None,
        *,
        folded: bool = False,
    ) -> None:
        self.kind = "folded_print" if folded else "print"
        self.rng = rng
        self.scene = _scene_of(source)
        self.capture = capture_for(camera, rng)
        self.room = room_background(rng, self.scene)
        self.scale = float(rng.uniform(1.2, 1.35))  # the sheet overfills the view
        sheet_mm = 297.0 * self.scale / 1.25  # an A4 sheet's long side across the view
        mm_per_sheet_px = sheet_mm / self.scene.width
        lpi = float(rng.uniform(150, 200))
        period_px = MM_PER_INCH / lpi / mm_per_sheet_px
        self.fine_period_camera_px = (
            period_px
            * self.scale
            * self.scene.width
            / (camera.geometry.width if camera else self.scene.width)
        )
        self.sheet = print_look(source.canvas, rng, period_px)
        self.anchor = (self.scene.width / 2, self.scene.eye_y)
        self.fold = (float(source.landmarks[2][0]), float(rng.uniform(30, 70))) if folded else None
        self.hand = _Hand(rng, float(rng.uniform(20, 35)), self.scene.width / VGA.width)
        self.light = float(rng.uniform(0.85, 1.1))

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        pose, shift = self.hand.pose(prompt, t)
        parts = sheet_homographies(
            (self.sheet.shape[1], self.sheet.shape[0]),
            self.scene,
            scale=self.scale,
            anchor=self.anchor,
            pose=pose,
            shift=shift,
            distance=_FOCAL,
            fold_u=self.fold[0] if self.fold else None,
            fold_deg=self.fold[1] if self.fold else 0.0,
        )
        # Lambertian: the sheet darkens as it turns away from the light
        shade = self.light * (
            0.75 + 0.25 * math.cos(math.radians(pose[0] - 10)) * math.cos(math.radians(pose[1]))
        )
        sheet = np.clip(self.sheet.astype(np.float32) * shade, 0, 255).astype(np.uint8)
        return shoot(self.capture, composite_sheet(self.room, sheet, parts), t, self.rng)


class EyeholeMaskPresenter:
    """A print of the applicant (`source`), cut to the face with the eyes cut out, worn
    flat over the face of `wearer`, who follows the prompts: the wearer's live eyes blink
    through the holes, the wearer's mouth opens behind the print."""

    kind = "eyehole_mask"

    def __init__(
        self,
        source: FaceSource,
        wearer: FaceSource,
        rng: np.random.Generator,
        camera: CameraModel | None = None,
    ) -> None:
        self.wearer, self.rng = wearer, rng
        self.motion = HeadMotion(rng, source.canvas.shape[1] / VGA.width)
        self.capture = capture_for(camera, rng)
        self.sheet = print_look(source.canvas, rng, 0.0)
        h, w = self.sheet.shape[:2]
        head, lm = source.head, source.landmarks
        ied = float(np.linalg.norm(lm[1] - lm[0]))
        alpha = np.zeros((h, w), np.float32)
        centre = (round(head.cx), round(head.cy))
        cv2.ellipse(alpha, centre, (round(head.a * 0.92), round(head.b * 0.88)), 0, 0, 360, 1.0, -1)
        for eye in lm[:2]:
            axes = (round(0.3 * ied), round(0.17 * ied))
            cv2.ellipse(alpha, (round(eye[0]), round(eye[1])), axes, 0, 0, 360, 0.0, -1)
        self.alpha = cv2.GaussianBlur(alpha, (0, 0), 0.02 * ied)
        nose = wearer.landmarks[2]
        # the sheet rests on the wearer's nose tip, flat across the face
        self.depth = float(wearer.head.depth(np.array([nose[0]]), np.array([nose[1]]))[0])

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        pose = self.motion.update(prompt, t)
        face = render_pose(self.wearer, pose)
        head = self.wearer.head
        r = rotation(pose.yaw, pose.pitch)
        sx, sy = pose.shift
        # orthographic, as render_head: the plane z = depth turns about the head centre
        m = np.array(
            [
                [
                    r[0, 0],
                    r[0, 1],
                    head.cx + r[0, 2] * self.depth - r[0, 0] * head.cx - r[0, 1] * head.cy + sx,
                ],
                [
                    r[1, 0],
                    r[1, 1],
                    head.cy + r[1, 2] * self.depth - r[1, 0] * head.cx - r[1, 1] * head.cy + sy,
                ],
            ]
        )
        size = (face.shape[1], face.shape[0])
        sheet = cv2.warpAffine(self.sheet, m, size, flags=cv2.INTER_LINEAR)
        a = cv2.warpAffine(self.alpha, m, size, flags=cv2.INTER_LINEAR)[..., None]
        scene = face.astype(np.float32) * (1 - a) + sheet.astype(np.float32) * a
        return shoot(self.capture, np.clip(scene, 0, 255).astype(np.uint8), t, self.rng)


class ClipReplayPresenter:
    """Clips of the applicant doing each action (recorded earlier, trimmed to start at
    the movement) played on a tablet held close. The attacker must see each prompt and
    start the matching clip: a reaction time plus a tap, during which the last clip keeps
    showing; then the recorded person moves at a human speed."""

    kind = "clip_replay"

    def __init__(
        self, source: FaceSource, rng: np.random.Generator, camera: CameraModel | None = None
    ) -> None:
        self.source, self.rng = source, rng
        self.scene = _scene_of(source)
        self.capture = capture_for(camera, rng)
        self.room = room_background(rng, self.scene)
        self.clip = HeadMotion(rng, self.scene.width / VGA.width)
        self.clip.fixed_reaction = 0.0  # trimmed: the clip starts with the movement
        self.hand = _Hand(rng, float(rng.uniform(2, 5)), self.scene.width / VGA.width)
        self.scale = float(rng.uniform(1.2, 1.3))
        tablet_mm = 217.0 * self.scale / 1.25  # a 10" 1920×1200 tablet, landscape
        pitch_mm = 217.0 / 1920
        sheet_px = pitch_mm / (tablet_mm / self.scene.width)
        self.pitch_px = sheet_px
        self.fine_period_camera_px = (
            sheet_px
            * self.scale
            * self.scene.width
            / (camera.geometry.width if camera else self.scene.width)
        )
        self.gamma = float(rng.uniform(0.8, 0.95))
        self.grid = float(rng.uniform(0.15, 0.4))
        self.glare = (
            rng.uniform(-0.15, 0.15),
            rng.uniform(-0.2, 0.2),
            rng.uniform(0.05, 0.1),
            rng.uniform(0.1, 0.3),
        )
        self._shown: str | None = "face_camera"
        self._pending: tuple[str | None, float] | None = None
        self._asked: str | None = "face_camera"

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        if prompt != self._asked:  # a new prompt: find and start its clip
            self._asked = prompt
            self._pending = (
                prompt,
                t + reaction_time(self.rng) + float(self.rng.uniform(0.3, 0.8)),
            )
        if self._pending is not None and t >= self._pending[1]:
            self._shown, self._pending = self._pending[0], None
        pose = self.clip.update(self._shown, t)
        video = render_pose(self.source, pose)
        video = cv2.GaussianBlur(video, (0, 0), 0.6 * self.scene.width / VGA.width)
        screen = display_look(video, self.gamma, self.pitch_px, self.grid)
        tilt, shift = self.hand.pose(None, t)
        parts = sheet_homographies(
            (screen.shape[1], screen.shape[0]),
            self.scene,
            scale=self.scale,
            anchor=(self.scene.width / 2, self.scene.eye_y),
            pose=tilt,
            shift=shift,
            distance=_FOCAL,
        )
        img = composite_sheet(self.room, screen, parts)
        gx, gy, gr, gs = self.glare
        w = self.scene.width
        img = add_glare(img, (w * (0.5 + gx), self.scene.eye_y + w * gy), w * gr, gs)
        return shoot(self.capture, img, t, self.rng)


__all__ = ["ClipReplayPresenter", "EyeholeMaskPresenter", "PrintPresenter"]
