"""A presentation-attack test set made from real face photos, seen through a camera model.

Each *presenter* stands in front of the kiosk camera and reacts to the kiosk's prompt,
frame by frame, as a person or an attacker would: `frame(prompt, t)` returns the next
camera frame (attacks_optics.CameraModel: lens blur, pixel-area integration, exposure
drift, noise, JPEG). `run_presentation` drives a `LivenessSession` with one presenter
through the real `FaceEngine`, exactly as the check-in flow does.

Presenter kinds (ISO/IEC 30107-3 "PAI species"; the flat ones are in attacks_planar.py):

- ``genuine``: a 3D-rendered head (attacks_render.py) that follows every prompt (turns,
  nods, blinks, opens the mouth) after a human reaction time, at a human speed, with
  sway, tremor and drifting exposure.
- ``print``: the photo printed (≥150 lpi halftone, ink gamut, paper) on a sheet held
  close to the camera, edges out of view, tilted for each prompt.
- ``folded_print``: the same, folded along the nose into two planes.
- ``eyehole_mask``: a print of the applicant with the eyes cut out, worn by another
  person whose live eyes (and blinks) show through; it turns with the wearer's head.
- ``clip_replay``: recorded clips of the applicant, one per prompt, played on a
  ≥1080-px tablet held close (bezel out of view): the attacker picks the clip after
  seeing each prompt, so each starts a selection delay late.
- ``static_photo``: a still of the photo with camera noise only (a photo on a stand
  filling the view, or an injected frozen frame).
- ``swap``: the genuine render of person A, replaced by person B (same pose, same
  place) as soon as the first step is done.
"""

from __future__ import annotations

import csv
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kiosk.evaluation.attacks_optics import CameraModel, CaptureState
from kiosk.evaluation.attacks_render import (
    VGA,
    Geometry,
    HeadModel,
    camera_noise,
    expression,
    normalise_face,
    render_head,
)
from kiosk.vision.imageio import read_image

if TYPE_CHECKING:
    from kiosk.vision.liveness import LivenessChecker, LivenessVerdict
    from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)

ATTACK_TYPES = (
    "print",
    "folded_print",
    "eyehole_mask",
    "clip_replay",
    "static_photo",
    "swap",
)
KINDS = ("genuine", *ATTACK_TYPES)
# Only near-frontal photos make sources: the render turns the head from where it is.
_MAX_SOURCE_YAW, _MAX_SOURCE_PITCH = 10.0, 10.0


@dataclass(frozen=True)
class FaceSource:
    """One real photo, normalised to the scene, with its head model."""

    person: str
    image: str
    canvas: np.ndarray  # scene-sized BGR, eyes level at a fixed spot
    landmarks: np.ndarray  # (5, 2) in canvas coordinates
    head: HeadModel


def load_sources(
    engine: FaceEngine, faces_dir: Path, *, limit: int | None = None, geometry: Geometry = VGA
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
        canvas, lm = normalise_face(image, face.landmarks, geometry)
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


def reaction_time(rng: np.random.Generator) -> float:
    """A person's delay from a prompt on a screen to the start of a movement: choice
    reaction times are log-normal, median ~0.45 s, a slow tail to ~1 s."""
    return float(np.clip(rng.lognormal(math.log(0.45), 0.3), 0.2, 1.1))


@dataclass
class Pose:
    yaw: float
    pitch: float
    blink: float
    mouth: float
    shift: tuple[float, float]


class HeadMotion:
    """How a cooperative person answers prompts: after a reaction time they turn or nod
    at a human speed to a comfortable angle and hold it, blink once (closed 150–350 ms),
    or open the mouth and keep it open; they sway and tremble a little all the time.
    `reaction` None draws a new reaction time for every prompt."""

    def __init__(self, rng: np.random.Generator, scale: float = 1.0) -> None:
        self.rng = rng
        self.scale = scale  # scene px per VGA px, for sway in pixels
        self.turn_yaw = rng.uniform(25, 35)
        self.up_pitch = rng.uniform(20, 28)
        self.down_pitch = rng.uniform(18, 25)
        self.speed = rng.uniform(45, 90)  # deg/s
        self.mouth_open = rng.uniform(0.7, 1.0)
        self.blink_closed = rng.uniform(0.15, 0.35)
        self.fixed_reaction: float | None = None
        self.phase = rng.uniform(0, 2 * math.pi, 3)
        self.yaw = self.pitch = self.mouth = 0.0
        self._prompt: str | None = None
        self._since = 0.0
        self._react = 0.0
        self._t: float | None = None

    def update(self, prompt: str | None, t: float) -> Pose:
        if prompt != self._prompt:
            self._prompt, self._since = prompt, t
            self._react = (
                self.fixed_reaction if self.fixed_reaction is not None else reaction_time(self.rng)
            )
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        target = {
            "turn_left": (self.turn_yaw, 0.0),
            "turn_right": (-self.turn_yaw, 0.0),
            "look_up": (0.0, self.up_pitch),
            "look_down": (0.0, -self.down_pitch),
        }.get(prompt or "", (0.0, 0.0))
        acting = t - self._since - self._react
        blink = 0.0
        if acting >= 0:
            step = self.speed * dt
            self.yaw += float(np.clip(target[0] - self.yaw, -step, step))
            self.pitch += float(np.clip(target[1] - self.pitch, -step, step))
            want = self.mouth_open if prompt == "open_mouth" else 0.0
            self.mouth += float(np.clip(want - self.mouth, -4 * dt, 4 * dt))
            if prompt == "blink":  # close over 80 ms, stay closed, open over 100 ms
                close, hold = 0.08, self.blink_closed
                blink = float(
                    np.clip(acting / close, 0, 1)
                    if acting < close + hold
                    else np.clip(1 - (acting - close - hold) / 0.1, 0, 1)
                )
        sway = 0.8 * math.sin(2 * math.pi * 0.4 * t + self.phase[0])
        tremor = self.rng.normal(0, 0.35, 2)
        k = self.scale
        shift = (
            3.0 * k * math.sin(2 * math.pi * 0.25 * t + self.phase[1]),
            2.0 * k * math.sin(2 * math.pi * 0.3 * t + self.phase[2]),
        )
        return Pose(self.yaw + sway + tremor[0], self.pitch + tremor[1], blink, self.mouth, shift)


def _capture_for(camera: CameraModel | None, rng: np.random.Generator) -> CaptureState | None:
    return camera.session(rng) if camera is not None else None


def _shoot(
    capture: CaptureState | None, scene: np.ndarray, t: float, rng: np.random.Generator
) -> np.ndarray:
    """The scene through the camera model, or (no model: the demo) sensor noise only."""
    return capture.capture(scene, t) if capture is not None else camera_noise(scene, rng)


def render_pose(source: FaceSource, pose: Pose) -> np.ndarray:
    canvas = expression(source.canvas, source.landmarks, pose.blink, pose.mouth)
    return render_head(canvas, source.head, pose.yaw, pose.pitch, pose.shift)


class GenuinePresenter:
    kind = "genuine"

    def __init__(
        self, source: FaceSource, rng: np.random.Generator, camera: CameraModel | None = None
    ) -> None:
        self.source, self.rng = source, rng
        self.motion = HeadMotion(rng, source.canvas.shape[1] / VGA.width)
        self.capture = _capture_for(camera, rng)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        pose = self.motion.update(prompt, t)
        return _shoot(self.capture, render_pose(self.source, pose), t, self.rng)


class SwapPresenter:
    """Person A until the first step is done, then person B in the same pose and place."""

    kind = "swap"

    def __init__(
        self,
        a: FaceSource,
        b: FaceSource,
        rng: np.random.Generator,
        camera: CameraModel | None = None,
    ) -> None:
        self.a, self.b, self.rng = a, b, rng
        self.motion = HeadMotion(rng, a.canvas.shape[1] / VGA.width)
        self.capture = _capture_for(camera, rng)
        self._first: str | None = None
        self.swapped = False

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        acts = prompt not in (None, "face_camera", "hold_still")
        if acts and self._first is None:
            self._first = prompt
        elif self._first is not None and prompt != self._first:
            self.swapped = True
        src = self.b if self.swapped else self.a
        pose = self.motion.update(prompt, t)
        return _shoot(self.capture, render_pose(src, pose), t, self.rng)


class StaticPhotoPresenter:
    kind = "static_photo"

    def __init__(
        self, source: FaceSource, rng: np.random.Generator, camera: CameraModel | None = None
    ) -> None:
        self.source, self.rng = source, rng
        self.capture = _capture_for(camera, rng)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        return _shoot(self.capture, self.source.canvas, t, self.rng)


def make_presenter(
    kind: str,
    sources: list[FaceSource],
    index: int,
    rng: np.random.Generator,
    camera: CameraModel | None = None,
) -> Presenter:
    """Presenter `kind` for source `index` (swap and mask take another person as the
    intruder or wearer)."""
    from kiosk.evaluation import attacks_planar as planar

    src = sources[index % len(sources)]
    others = [s for s in sources if s.person != src.person] or sources
    other = others[index % len(others)]
    if kind == "genuine":
        return GenuinePresenter(src, rng, camera)
    if kind == "static_photo":
        return StaticPhotoPresenter(src, rng, camera)
    if kind == "swap":
        return SwapPresenter(src, other, rng, camera)
    if kind == "print":
        return planar.PrintPresenter(src, rng, camera)
    if kind == "folded_print":
        return planar.PrintPresenter(src, rng, camera, folded=True)
    if kind == "eyehole_mask":
        return planar.EyeholeMaskPresenter(src, other, rng, camera)
    if kind == "clip_replay":
        return planar.ClipReplayPresenter(src, rng, camera)
    raise ValueError(f"unknown presenter kind {kind!r}")


def run_presentation(
    checker: LivenessChecker,
    engine: FaceEngine,
    presenter: Presenter,
    *,
    seed: int,
    fps: float = 10.0,
    max_s: float = 60.0,
) -> LivenessVerdict:
    """Drive one liveness session with `presenter`, through the real face engine, with
    the frame time stamps a camera at `fps` gives."""
    session = checker.start(random.Random(seed))
    prompt: str | None = "face_camera"
    i = 0
    while i / fps <= max_s:
        t = i / fps
        frame = presenter.frame(prompt, t)
        obs = engine.analyze(frame).primary
        step = session.feed(obs, frame, t)
        if step.verdict is not None:
            return step.verdict
        prompt = step.prompt
        i += 1
    raise RuntimeError("liveness session did not end: its timeouts are broken")
