"""Shared parts of the attack set: the face source, how a person moves in answer to
prompts (reaction time, speed, blinks, mouth, sway), and the camera hook.

Kept apart from attacks.py (the presenter kinds) and attacks_planar.py (the flat
attacks) so both can use them without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kiosk.evaluation.attacks_optics import CameraModel, CaptureState
from kiosk.evaluation.attacks_render import (
    HeadModel,
    camera_noise,
    expression,
    render_head,
)


@dataclass(frozen=True)
class FaceSource:
    """One real photo, normalised to the scene, with its head model."""

    person: str
    image: str
    canvas: np.ndarray  # scene-sized BGR, eyes level at a fixed spot
    landmarks: np.ndarray  # (5, 2) in canvas coordinates
    head: HeadModel


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


def capture_for(camera: CameraModel | None, rng: np.random.Generator) -> CaptureState | None:
    return camera.session(rng) if camera is not None else None


def shoot(
    capture: CaptureState | None, scene: np.ndarray, t: float, rng: np.random.Generator
) -> np.ndarray:
    """The scene through the camera model, or (no model: the demo) sensor noise only."""
    return capture.capture(scene, t) if capture is not None else camera_noise(scene, rng)


def render_pose(source: FaceSource, pose: Pose) -> np.ndarray:
    canvas = expression(source.canvas, source.landmarks, pose.blink, pose.mouth)
    return render_head(canvas, source.head, pose.yaw, pose.pitch, pose.shift)


__all__ = [
    "FaceSource",
    "HeadMotion",
    "Pose",
    "capture_for",
    "reaction_time",
    "render_pose",
    "shoot",
]
