"""An identity sample is judged on its own frame's pose (the review's stale-pose hole):
the session runs the dense landmarks on every frame that carries an embedding, even
between two landmark frames, and tells the flow the pose it used (`step.facing`).

A scripted landmarker stands in for the model (the canonical mesh turned by a yaw read
from the frame), so the test controls exactly which frame faces the camera; the face
observations and embeddings are real."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import LivenessConfig
from kiosk.vision.imageio import read_image
from kiosk.vision.landmarks import DenseLandmarks
from kiosk.vision.liveness import LivenessChecker
from kiosk.vision.liveness_prompts import Prompt

DATA = Path(__file__).parent / "data"
MESH = Path(__file__).resolve().parents[1] / "models" / "face_canonical_mesh_2023may.csv"


class ScriptedLandmarker:
    """The canonical mesh turned by the yaw written into the frame's first pixel."""

    def __init__(self) -> None:
        self.canonical_mesh = np.loadtxt(MESH, delimiter=",", comments="#", skiprows=2)
        self.calls: list[float] = []

    def infer(self, frame: np.ndarray, box: np.ndarray, five: np.ndarray) -> DenseLandmarks:
        yaw = float(frame[0, 0, 0]) - 100.0
        self.calls.append(yaw)
        mesh = self.canonical_mesh[:, :3] * 10.0
        mesh[:, 1] *= -1
        a = math.radians(yaw)
        rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        pts = mesh @ rot.T
        z = 600.0 - pts[:, 2]
        # image x right, y down, depth away from the camera, all in pixels
        out = np.stack([640 + 900 * pts[:, 0] / z, 300 + 900 * pts[:, 1] / z, -1.5 * pts[:, 2]], 1)
        return DenseLandmarks(np.vstack([out, np.repeat(out[:1], 10, axis=0)]), 1.0)


@pytest.fixture(scope="module")
def faces(engine):
    """Observations of two different people (real embeddings)."""
    out = {}
    for name, photo in (("a", "img1.jpg"), ("b", "img12.jpg")):
        image = read_image(DATA / "pairs" / photo)
        obs = engine.analyze(image, embed="none").primary
        engine.embed_observations([obs])
        out[name] = (image, obs)
    return out


def _frame(image: np.ndarray, yaw: float) -> np.ndarray:
    frame = image.copy()
    frame[0, 0, 0] = int(100 + yaw)
    return frame


def test_a_sample_between_landmark_frames_gets_its_own_pose(faces) -> None:
    landmarker = ScriptedLandmarker()
    cfg = LivenessConfig(mode="active", landmark_interval_ms=70.0)
    checker = LivenessChecker(cfg, landmarker=landmarker)  # type: ignore[arg-type]
    session = checker.start()
    session.challenge = (Prompt.TURN_LEFT, Prompt.BLINK)
    session.tracker.challenge = session.challenge
    image_a, obs_a = faces["a"]
    no_embedding = replace(obs_a, embedding=None)
    # 25 fps: the first sample (the reference, facing), then plain frames facing
    step = session.feed(obs_a, _frame(image_a, 0.0), 0.0)
    for i in range(1, 4):
        step = session.feed(no_embedding, _frame(image_a, 0.0), i * 0.04)
    assert step.facing
    # 0.16 s: a landmark frame facing; 0.20 s, within 70 ms of it, a sample turned 30°:
    # its own landmarks run, it is not facing, and it is held to nothing
    session.feed(no_embedding, _frame(image_a, 0.0), 0.16)
    calls = len(landmarker.calls)
    image_b, obs_b = faces["b"]
    step = session.feed(obs_b, _frame(image_b, 30.0), 0.20)
    assert len(landmarker.calls) == calls + 1 and landmarker.calls[-1] == 30.0
    assert step.facing is False and step.verdict is None
    # 0.24 s: the other person again, now facing, within the landmark interval: caught
    step = session.feed(obs_b, _frame(image_b, 0.0), 0.24)
    assert step.verdict is not None and step.verdict.reason == "identity_changed"
    assert step.facing is True
