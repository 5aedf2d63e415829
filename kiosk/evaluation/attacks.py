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
import random
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kiosk.evaluation import attacks_planar as planar
from kiosk.evaluation.attacks_motion import (
    FaceSource,
    HeadMotion,
    capture_for,
    render_pose,
    shoot,
)
from kiosk.evaluation.attacks_optics import CameraModel
from kiosk.evaluation.attacks_render import VGA, Geometry, HeadModel, normalise_face
from kiosk.vision.challenge import frontal_for_baseline
from kiosk.vision.identity_continuity import IdentitySampler
from kiosk.vision.imageio import read_image
from kiosk.vision.liveness_session import LivenessVerdict

if TYPE_CHECKING:
    from kiosk.vision.landmarks import DenseLandmarker
    from kiosk.vision.liveness import LivenessChecker
    from kiosk.vision.pipeline import FaceEngine, FaceObservation

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
FACE_CHANGED = "face_changed_during_liveness"  # the flow's reason (checkin.decision)


def load_sources(
    engine: FaceEngine,
    faces_dir: Path,
    *,
    limit: int | None = None,
    geometry: Geometry = VGA,
    frontal: tuple[DenseLandmarker, float] | None = None,
) -> list[FaceSource]:
    """Near-frontal portraits from `faces_dir` (identities.csv names the people).

    `frontal` (the door's landmarker and its `turn_deg`) also leaves out a photo whose
    dense-landmark pose the door would not take as facing the camera: a rendered
    presenter holds the photo's pose and, unlike a person asked to face the camera, never
    corrects it, so such a photo would time out every presentation of every kind."""
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
        if frontal is not None and not _faces_camera(image, face, *frontal):
            log.info("attack sources: %s is not frontal to the door's landmarks", row["image"])
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


def _faces_camera(
    image: np.ndarray, face: FaceObservation, landmarker: DenseLandmarker, limit_deg: float
) -> bool:
    from kiosk.vision.landmark_cues import head_pose

    dense = landmarker.infer(image, face.box, face.landmarks)
    pose = head_pose(dense.points, landmarker.canonical_mesh)
    return frontal_for_baseline(pose.yaw, pose.pitch, limit_deg)


class Presenter(Protocol):
    kind: str

    def frame(self, prompt: str | None, t: float) -> np.ndarray: ...


class GenuinePresenter:
    kind = "genuine"

    def __init__(
        self, source: FaceSource, rng: np.random.Generator, camera: CameraModel | None = None
    ) -> None:
        self.source, self.rng = source, rng
        self.motion = HeadMotion(rng, source.canvas.shape[1] / VGA.width)
        self.capture = capture_for(camera, rng)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        pose = self.motion.update(prompt, t)
        return shoot(self.capture, render_pose(self.source, pose), t, self.rng)


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
        self.capture = capture_for(camera, rng)
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
        return shoot(self.capture, render_pose(src, pose), t, self.rng)


class StaticPhotoPresenter:
    kind = "static_photo"

    def __init__(
        self, source: FaceSource, rng: np.random.Generator, camera: CameraModel | None = None
    ) -> None:
        self.source, self.rng = source, rng
        self.capture = capture_for(camera, rng)

    def frame(self, prompt: str | None, t: float) -> np.ndarray:
        return shoot(self.capture, self.source.canvas, t, self.rng)


def make_presenter(
    kind: str,
    sources: list[FaceSource],
    index: int,
    rng: np.random.Generator,
    camera: CameraModel | None = None,
) -> Presenter:
    """Presenter `kind` for source `index` (swap and mask take another person as the
    intruder or wearer)."""
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
    sample_every: int = 0,
    door_limit_s: float | None = None,
    match_threshold: float | None = None,
) -> LivenessVerdict:
    """Drive one liveness session with `presenter`, through the real face engine, with
    the frame time stamps a camera at `fps` gives. Faces are embedded as the door embeds
    them (IdentitySampler with `checkin.identity_sample_every`), so the identity check
    measured here is the door's, not a denser one. `door_limit_s` (the door's
    `checkin.liveness_timeout_s`): a session still running then is what the door ends as
    a liveness timeout, so it ends here as `liveness_timeout` (not accepted).
    `match_threshold` (the door's matcher threshold): the door holds every identity
    sample taken facing the camera to it against the captured face (the flow's
    `face_changed_during_liveness`); here the first facing sample stands for the capture,
    and a live verdict with a later facing sample under the threshold ends as that."""
    session = checker.start(random.Random(seed))
    sampler = IdentitySampler(sample_every)
    prompt: str | None = "face_camera"
    wanted = False
    probe: np.ndarray | None = None
    continuity = 1.0
    i = 0
    while i / fps <= max_s:
        t = i / fps
        frame = presenter.frame(prompt, t)
        obs = engine.analyze(frame, embed="none").primary
        if obs is not None and sampler.wants(prompt, asked=wanted):
            engine.embed_observations([obs])
        step = session.feed(obs, frame, t)
        sample = obs.embedding if obs is not None else None
        if step.facing and sample is not None:
            probe = sample if probe is None else probe
            continuity = min(continuity, float(np.dot(sample, probe)))
        if step.verdict is not None:
            door_refuses = match_threshold is not None and continuity < match_threshold
            if step.verdict.passed and door_refuses:
                return replace(step.verdict, passed=False, reason=FACE_CHANGED)
            return step.verdict
        if door_limit_s is not None and t >= door_limit_s:
            return LivenessVerdict(False, 0.0, "liveness_timeout", session.live_cues())
        prompt, wanted = step.prompt, step.wants_sample
        i += 1
    raise RuntimeError("liveness session did not end: its timeouts are broken")
