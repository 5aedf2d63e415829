"""A synthetic presentation-attack test set made from real face photos.

Each *presenter* stands in front of the kiosk camera and reacts to the kiosk's prompt,
frame by frame, as a person or an attacker would: `frame(prompt, t)` returns the next
640×480 camera frame. `run_presentation` drives a `LivenessSession` with one presenter
through the real `FaceEngine`, exactly as the check-in flow does.

Presenters (the attack types of the evaluation, ISO/IEC 30107-3 "PAI species"):

- ``genuine``: a 3D-rendered head (attacks_render.py) that follows every prompt with a
  human reaction delay and speed, plus sway and tremor.
- ``print``: the photo printed (gamut, halftone or grain, paper texture, margin) on a
  sheet held in front of the camera; the attacker tilts the sheet in 3D for each
  prompt, the hand trembles, the light on the sheet changes with its angle. One in four
  sheets is held so close that its edges are outside the frame.
- ``screen_replay``: a video of the genuine person turning exactly as asked (the worst
  case: the attacker has a clip for every prompt) played on a phone: display gamma,
  RGB sub-pixel grid and black matrix (which the camera aliases into moiré), bezel,
  glare of a ceiling light, phone held in a trembling hand.
- ``static_photo``: a still of the photo with sensor noise only (a photo on a stand
  filling the view, or an injected frozen frame): it never moves.
- ``swap``: the genuine render of person A, replaced by person B (same pose, same
  place) as soon as the first turn is done.
"""

from __future__ import annotations

import csv
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from kiosk.evaluation.attacks_render import (
    FRAME_H,
    FRAME_W,
    HeadModel,
    add_glare,
    camera_noise,
    composite,
    normalise_face,
    plane_homography,
    print_look,
    render_head,
    room_background,
    screen_look,
)
from kiosk.vision.imageio import read_image

if TYPE_CHECKING:
    from kiosk.vision.liveness import LivenessChecker, LivenessVerdict
    from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)

ATTACK_TYPES = ("print", "screen_replay", "static_photo", "swap")
KINDS = ("genuine", *ATTACK_TYPES)
# Only near-frontal photos make sources: the render turns the head from where it is.
_MAX_SOURCE_YAW, _MAX_SOURCE_PITCH = 10.0, 10.0


@dataclass(frozen=True)
class FaceSource:
    """One real photo, normalised to the kiosk frame, with its head model."""

    person: str
    image: str
    canvas: np.ndarray  # FRAME_H × FRAME_W BGR, eyes level at a fixed spot
    landmarks: np.ndarray  # (5, 2) in canvas coordinates
    head: HeadModel


def load_sources(
    engine: FaceEngine, faces_dir: Path, *, limit: int | None = None
) -> list[FaceSource]:
    """Near-frontal portraits from `faces_dir` (identities.csv names the people)."""
    rows = list(csv.DictReader((faces_dir / "identities.csv").open(encoding="utf-8")))
    sources: list[FaceSource] = []
    for row in rows:
        image = read_image(str(faces_dir / row["image"]))
        face = engine.analyze(image, embed="none", long_side=640).primary
        if face is None:
            continue
        pose = face.quality.pose
        if abs(pose.yaw) > _MAX_SOURCE_YAW or abs(pose.pitch) > _MAX_SOURCE_PITCH:
            continue
        canvas, lm = normalise_face(image, face.landmarks)
        sources.append(
            FaceSource(row["person"], row["image"], canvas, lm, HeadModel.from_landmarks(lm))
        )
        if limit and len(sources) >= limit:
            break
    log.info(
        "attack sources: %d near-frontal photos of %d people",
        len(sources),
        len({s.person for s in sources}),
    )
    return sources


class Presenter(Protocol):
    kind: str

    def frame(self, prompt: str | None, t: float) -> np.ndarray: ...


class HeadMotion:
    """How a cooperative person moves their head in answer to prompts: after a reaction
    delay they turn at a human speed to a comfortable angle and hold it; they sway and
    tremble a little all the time."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.turn_yaw = rng.uniform(25, 35)
        self.up_pitch = rng.uniform(24, 30)
        self.speed = rng.uniform(45, 90)  # deg/s
        self.reaction = rng.uniform(0.2, 0.5)
        self.phase = rng.uniform(0, 2 * math.pi, 3)
        self.yaw = self.pitch = 0.0
        self._prompt: str | None = None
        self._since = 0.0
        self._t: float | None = None

    def update(self, prompt: str | None, t: float) -> tuple[float, float, tuple[float, float]]:
        """(yaw, pitch, head shift in px) at time t."""
        if prompt != self._prompt:
            self._prompt, self._since = prompt, t
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        target = {
            "turn_left": (self.turn_yaw, 0.0),
            "turn_right": (-self.turn_yaw, 0.0),
            "look_up": (0.0, self.up_pitch),
        }.get(prompt or "", (0.0, 0.0))
        if t - self._since >= self.reaction:
            step = self.speed * dt
            self.yaw += float(np.clip(target[0] - self.yaw, -step, step))
            self.pitch += float(np.clip(target[1] - self.pitch, -step, step))
        sway = 0.8 * math.sin(2 * math.pi * 0.4 * t + self.phase[0])
        tremor = self.rng.normal(0, 0.35, 2)
        shift = (
            3.0 * math.sin(2 * math.pi * 0.25 * t + self.phase[1]),
            2.0 * math.sin(2 * math.pi * 0.3 * t + self.phase[2]),
        )
        return self.yaw + sway + tremor[0], self.pitch + tremor[1], shift


class GenuinePresenter:
    kind = "genuine"

    def __init__(self, source: FaceSource, rng: np.random.Generator) -> None:
        self.source, self.rng = source, rng
        self.motion = HeadMotion(rng)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        yaw, pitch, shift = self.motion.update(prompt, t)
        img = render_head(self.source.canvas, self.source.head, yaw, pitch, shift)
        return camera_noise(img, self.rng)


class SwapPresenter:
    """Person A until the first turn is done, then person B in the same pose and place."""

    kind = "swap"

    def __init__(self, a: FaceSource, b: FaceSource, rng: np.random.Generator) -> None:
        self.a, self.b, self.rng = a, b, rng
        self.motion = HeadMotion(rng)
        self._seen_turn: str | None = None
        self.swapped = False

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        if prompt in ("turn_left", "turn_right", "look_up") and self._seen_turn is None:
            self._seen_turn = prompt
        elif self._seen_turn is not None and prompt != self._seen_turn:
            self.swapped = True
        src = self.b if self.swapped else self.a
        yaw, pitch, shift = self.motion.update(prompt, t)
        return camera_noise(render_head(src.canvas, src.head, yaw, pitch, shift), self.rng)


class StaticPhotoPresenter:
    kind = "static_photo"

    def __init__(self, source: FaceSource, rng: np.random.Generator) -> None:
        self.source, self.rng = source, rng

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        return camera_noise(self.source.canvas, self.rng)


class _HandHeld:
    """A sheet or phone in a hand: follows the attacker's idea of each prompt by tilting
    the plane (a flat object cannot turn like a head), with tremor and drift."""

    def __init__(self, rng: np.random.Generator, tilt: float) -> None:
        self.rng = rng
        self.motion = HeadMotion(rng)
        self.motion.turn_yaw = tilt
        self.motion.up_pitch = tilt * 0.8
        self.phase = rng.uniform(0, 2 * math.pi, 3)

    def pose(self, prompt: str | None, t: float) -> tuple[float, float, float, float, float]:
        yaw, pitch, _ = self.motion.update(prompt, t)
        tremor = self.rng.normal(0, 0.5, 3)
        dx = 6 * math.sin(2 * math.pi * 0.3 * t + self.phase[0]) + tremor[0]
        dy = 4 * math.sin(2 * math.pi * 0.2 * t + self.phase[1]) + tremor[1]
        roll = 2 * math.sin(2 * math.pi * 0.15 * t + self.phase[2]) + tremor[2]
        return yaw, pitch, roll, dx, dy


class PrintPresenter:
    kind = "print"

    def __init__(self, source: FaceSource, rng: np.random.Generator) -> None:
        self.rng = rng
        self.room = room_background(rng)
        lm = source.landmarks
        d = float(np.linalg.norm(lm[1] - lm[0]))
        ex, ey = (lm[0] + lm[1]) / 2
        # an ID-style portrait: head and shoulders, 3:4
        x1, x2 = int(ex - 2.4 * d), int(ex + 2.4 * d)
        y1, y2 = int(ey - 2.5 * d), int(ey - 2.5 * d + (x2 - x1) * 4 / 3)
        crop = source.canvas[max(0, y1) : min(FRAME_H, y2), max(0, x1) : min(FRAME_W, x2)]
        self.sheet = print_look(crop, rng)
        self.eye_in_sheet = (
            ex - max(0, x1) + (self.sheet.shape[1] - crop.shape[1]) / 2,
            ey - max(0, y1),
        )
        self.close = rng.random() < 0.25  # held so close the sheet's edges leave the frame
        self.scale = rng.uniform(1.7, 2.0) if self.close else rng.uniform(0.95, 1.15)
        self.hand = _HandHeld(rng, tilt=rng.uniform(20, 35))
        self.light = rng.uniform(0.85, 1.1)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        yaw, pitch, roll, dx, dy = self.hand.pose(prompt, t)
        sh, sw = self.sheet.shape[:2]
        width = sw * self.scale
        # put the printed eyes where a real person's eyes would be
        off_x = (self.eye_in_sheet[0] - sw / 2) * self.scale
        off_y = (self.eye_in_sheet[1] - sh / 2) * self.scale
        centre = (FRAME_W / 2 - off_x + dx, 200 - off_y + dy)
        H = plane_homography(sw, sh, width, centre, yaw, pitch, roll)
        # Lambertian: the sheet darkens as it turns away from the light
        shade = self.light * (
            0.75 + 0.25 * math.cos(math.radians(yaw - 10)) * math.cos(math.radians(pitch))
        )
        sheet = np.clip(self.sheet.astype(np.float32) * shade, 0, 255).astype(np.uint8)
        img = composite(self.room, sheet, H)
        img = cv2.GaussianBlur(img, (0, 0), 0.6)
        return camera_noise(img, self.rng)


class ScreenReplayPresenter:
    kind = "screen_replay"

    def __init__(self, source: FaceSource, rng: np.random.Generator) -> None:
        self.rng = rng
        self.room = room_background(rng)
        self.video = GenuinePresenter(source, rng)  # a clip of the person doing it right
        lm = source.landmarks
        d = float(np.linalg.norm(lm[1] - lm[0]))
        ex, ey = (lm[0] + lm[1]) / 2
        w = int(4.0 * d)
        h = int(w * 4 / 3)
        self.crop = (int(ex - w / 2), int(ey - 0.4 * h), w, h)
        self.display = (360, 480)  # logical display pixels (w, h) of the playing video
        self.gamma = rng.uniform(0.75, 0.95)
        self.grid_contrast = rng.uniform(0.15, 0.4)
        self.hand = _HandHeld(rng, tilt=rng.uniform(4, 8))  # the clip turns; the phone is steady
        self.glare = (
            rng.uniform(-100, 100),
            rng.uniform(-120, 120),
            rng.uniform(20, 50),
            rng.uniform(0.1, 0.35),
        )
        self.size = rng.uniform(1.0, 1.2)  # the face on screen ≈ the size of a real one

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        clip = self.video.frame(prompt, t)
        x, y, w, h = self.crop
        pad = cv2.copyMakeBorder(clip, h, h, w, w, cv2.BORDER_REFLECT101)
        shown = cv2.resize(
            pad[y + h : y + 2 * h, x + w : x + 2 * w], self.display, interpolation=cv2.INTER_AREA
        )
        phone = screen_look(shown, self.rng, self.gamma, self.grid_contrast)
        ph, pw = phone.shape[:2]
        yaw, pitch, roll, dx, dy = self.hand.pose(None, t)
        width = w * self.size * pw / (self.display[0] * 3)
        centre = (FRAME_W / 2 + dx, 200 + (0.5 - 0.4) * h * self.size + dy)
        H = plane_homography(pw, ph, width, centre, yaw, pitch, roll)
        img = composite(self.room, phone, H, interp=cv2.INTER_LINEAR)
        gx, gy, gr, gs = self.glare
        img = add_glare(img, (FRAME_W / 2 + gx - 3 * yaw, 200 + gy + 3 * pitch), gr, gs)
        img = cv2.GaussianBlur(img, (0, 0), 0.5)
        return camera_noise(img, self.rng)


def make_presenter(
    kind: str, sources: list[FaceSource], index: int, rng: np.random.Generator
) -> Presenter:
    """Presenter `kind` for source `index` (swap takes the next person as the intruder)."""
    src = sources[index % len(sources)]
    if kind == "genuine":
        return GenuinePresenter(src, rng)
    if kind == "print":
        return PrintPresenter(src, rng)
    if kind == "screen_replay":
        return ScreenReplayPresenter(src, rng)
    if kind == "static_photo":
        return StaticPhotoPresenter(src, rng)
    if kind == "swap":
        others = [s for s in sources if s.person != src.person]
        return SwapPresenter(src, others[index % len(others)], rng)
    raise ValueError(f"unknown presenter kind {kind!r}")


def frames(
    presenter: Presenter, prompts: Iterator[str | None], fps: float = 10.0
) -> Iterator[np.ndarray]:
    """Frames for a fixed prompt script (for `kiosk liveness show` and debugging)."""
    for i, prompt in enumerate(prompts):
        yield presenter.frame(prompt, i / fps)


def run_presentation(
    checker: LivenessChecker,
    engine: FaceEngine,
    presenter: Presenter,
    *,
    seed: int,
    fps: float = 10.0,
    max_s: float = 40.0,
) -> LivenessVerdict:
    """Drive one liveness session with `presenter`, through the real face engine."""
    session = checker.start(random.Random(seed))
    prompt: str | None = "face_camera"
    t = 0.0
    while t <= max_s:
        frame = presenter.frame(prompt, t)
        obs = engine.analyze(frame).primary
        step = session.feed(obs, frame, t)
        if step.verdict is not None:
            return step.verdict
        prompt = step.prompt
        t += 1.0 / fps
    raise RuntimeError("liveness session did not end: its timeouts are broken")
