"""A scripted demo camera whose people are rendered live from one photo each.

Recorded photos cannot turn their heads, so a real liveness check must refuse them. This
source plays a script of *scenes*: still frames (an empty doorway, a booking QR held up)
and *live* scenes, in which a head rendered in 3D from one photo (the genuine presenter
of the liveness attack set, `kiosk.evaluation.attacks`) answers the prompt the door is
showing right now, frame by frame, with a human reaction delay and speed, sway, tremor
and sensor noise. A live scene lasts until `done()` says the attempt is decided (or
`max_s` of scene time passed).

Deterministic: each live scene renders with its own seeded generator (re-created when the
scene starts, so a looping demo replays the same person), and its time is read from the
given clock (the door's own: frame time in the headless demo, monotonic time in the
window). No Qt here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kiosk.errors import CameraUnavailable
from kiosk.evaluation.attacks import FaceSource, GenuinePresenter
from kiosk.evaluation.attacks_render import HeadModel, normalise_face
from kiosk.vision.imageio import read_image

DEMO_REACTION_S = 0.25  # s from a prompt to the rendered applicant's first movement

if TYPE_CHECKING:
    from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)


def face_source_from_photo(engine: FaceEngine, photo: Path, person: str = "") -> FaceSource:
    """The render source for one portrait (its primary face must be found)."""
    image = read_image(str(photo))
    face = engine.analyze(image, embed="none", long_side=640).primary
    if face is None:
        raise CameraUnavailable(f"no face found in demo photo {photo}")
    canvas, lm = normalise_face(image, face.landmarks)
    return FaceSource(person or photo.stem, photo.name, canvas, lm, HeadModel.from_landmarks(lm))


@dataclass
class StillScene:
    """Fixed frames, one per read."""

    frames: list[np.ndarray]


@dataclass
class LiveScene:
    """A rendered person in front of the camera, following `prompt()`, until `done()`."""

    source: FaceSource
    seed: int
    done: Callable[[], bool]
    max_s: float = 40.0
    min_frames: int = 1


class RenderedDemoCamera:
    """A `FrameSource` playing `scenes` at `fps`; `prompt()` is the prompt the door shows
    (None or anything that is not a head-movement prompt means: look at the camera)."""

    def __init__(
        self,
        scenes: list[StillScene | LiveScene],
        *,
        prompt: Callable[[], str | None],
        clock: Callable[[], float],
        fps: float = 5.0,
        loop: bool = False,
    ) -> None:
        self.name = "demo camera (rendered)"
        self.scenes, self.prompt, self.clock = scenes, prompt, clock
        self.fps, self.loop = fps, loop
        self._scene = 0
        self._frame = 0
        self._presenter: GenuinePresenter | None = None
        self._t0 = 0.0

    @property
    def pace_fps(self) -> float | None:
        return self.fps

    def open(self) -> None:
        self._scene, self._frame, self._presenter = 0, 0, None

    def close(self) -> None:
        self._presenter = None

    def _next_scene(self) -> None:
        self._scene += 1
        self._frame, self._presenter = 0, None
        if self._scene >= len(self.scenes) and self.loop:
            self._scene = 0

    def read(self) -> np.ndarray | None:
        while self._scene < len(self.scenes):
            scene = self.scenes[self._scene]
            if isinstance(scene, StillScene):
                if self._frame < len(scene.frames):
                    self._frame += 1
                    return scene.frames[self._frame - 1]
                self._next_scene()
                continue
            now = self.clock()
            if self._presenter is None:
                self._presenter = GenuinePresenter(scene.source, np.random.default_rng(scene.seed))
                # an attentive demo applicant: in the window the door's frame latency on
                # a busy machine adds to the measured reaction time (limit 0.75 s), and
                # the demo is there to show the door working, not a hesitant person
                self._presenter.motion.fixed_reaction = DEMO_REACTION_S
                self._t0 = now
            over = now - self._t0 > scene.max_s
            if self._frame >= scene.min_frames and (over or scene.done()):
                if over:
                    log.warning("demo camera: live scene ended by its time limit")
                self._next_scene()
                continue
            self._frame += 1
            return self._presenter.frame(self.prompt(), now - self._t0)
        return None
