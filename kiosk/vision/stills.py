"""Faces in still photos (`kiosk compare`, `kiosk eval`, enrolment): which face a photo is
about, found without upscaling the photo. Not on the door's path.

The door takes the largest face and refuses when two are close in size (an applicant
at the door is the nearest person). A photo set's protocol is different: its subject is
the person the photographer centred, and a bystander may be bigger. So `kiosk eval`
chooses with the protocol's rule (`centre`, the default) and can replay the door's
(`largest`).

Stills are never upscaled: a photo smaller than `STILL_LONG_SIDE` is detected at its own
size (padded to the detector stride), because upscaling a 250 px photo to 640 px invents
detail the detector was not trained on (about 0.2 points of EER on such photos). Larger
photos are still brought down to `STILL_LONG_SIDE`: at native size YuNet misses or
mis-places faces bigger than its largest anchors (on the shared 61-photo set, native
size for 2000-4600 px portraits gave EER 2.9% and a failure to acquire, 640 gave 0).
Only when nothing is found in a small photo is it tried again upscaled, because a face
too small for the detector's smallest anchor is lost otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kiosk.errors import NoFaceError
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FaceEngine, FaceObservation, FrameAnalysis

FaceRule = Literal["centre", "largest"]
FACE_RULES: tuple[FaceRule, ...] = ("centre", "largest")
STILL_LONG_SIDE = 640


@dataclass(frozen=True)
class StillFace:
    """The face chosen in one photo, and what else was in it."""

    face: FaceObservation  # its .embedding is `embedding`
    embedding: np.ndarray  # (D,) L2-normalised
    faces_found: int
    index: int  # rank of the chosen face among those found, largest first
    long_side: int  # detector input long side actually used

    def describe(self) -> str:
        """`face 2 of 3 (centre)`-style words for the CLI."""
        x1, y1, x2, y2 = (int(v) for v in self.face.box)
        return f"face {self.index + 1} of {self.faces_found} at ({x1},{y1})-({x2},{y2})"


def choose_face(faces: list[FaceObservation], frame_shape: tuple[int, int], rule: FaceRule) -> int:
    """Index (into `faces`, largest first) of the face `rule` picks.

    `centre`: the face whose box centre is nearest the image centre; equal distances go
    to the larger face (the earlier one). `largest`: the first.
    """
    if not faces:
        raise ValueError("no faces to choose from")
    if rule == "largest":
        return 0
    if rule != "centre":
        raise ValueError(f"unknown face rule {rule!r}")
    h, w = frame_shape
    centre = np.array([w / 2.0, h / 2.0])
    dist = [float(np.hypot(*(((f.box[:2] + f.box[2:]) / 2.0) - centre))) for f in faces]
    return int(np.argmin(dist))  # argmin keeps the first (largest) among equals


def analyse_still(engine: FaceEngine, image: np.ndarray) -> tuple[FrameAnalysis, int]:
    """Every face of a still, found without upscaling (upscaled only if nothing is found
    in a small photo); also the detector long side used. Nothing is embedded."""
    long_side = min(int(max(image.shape[:2])), STILL_LONG_SIDE)
    analysis = engine.analyze(image, embed="none", long_side=long_side)
    if not analysis.faces and long_side < STILL_LONG_SIDE:
        long_side = STILL_LONG_SIDE
        analysis = engine.analyze(image, embed="none", long_side=long_side)
    return analysis, long_side


def face_by_rule(rule: FaceRule) -> Callable[[FrameAnalysis], FaceObservation | None]:
    """`rule` as a chooser for `batch_embed.embed_images`."""

    def choose(analysis: FrameAnalysis) -> FaceObservation | None:
        if not analysis.faces:
            return None
        return analysis.faces[choose_face(analysis.faces, analysis.frame_shape, rule)]

    return choose


def detect_still(engine: FaceEngine, path: str, rule: FaceRule = "centre") -> StillFace:
    """`analyse_still`, then the face `rule` picks, embedded. NoFaceError if none."""
    return detect_stills(engine, (path,), rule)[0]


def detect_stills(
    engine: FaceEngine, paths: Sequence[str], rule: FaceRule = "centre"
) -> list[StillFace]:
    """`detect_still` for several photos: all are detected before any is embedded, so
    a recogniser still opening on its thread (`kiosk compare`) is waited for last.
    NoFaceError names the first photo without a face.

    Each face is embedded in its own run (with its mirror, when the pack averages), not
    all in one batch: the results are the same bits, and on a cold start two runs of
    two crops cost less than one of four (measured: the session's memory grows to the
    batch's activations, page by page)."""
    chosen = []
    for path in paths:
        analysis, long_side = analyse_still(engine, read_image(path))
        if not analysis.faces:
            raise NoFaceError(f"{path}: no face found")
        index = choose_face(analysis.faces, analysis.frame_shape, rule)
        chosen.append((analysis, index, long_side))
    stills = []
    for analysis, index, long_side in chosen:
        face = analysis.faces[index]
        embedding = face.embedding = engine.embedder.embed(face.aligned)
        stills.append(StillFace(face, embedding, len(analysis.faces), index, long_side))
    return stills
