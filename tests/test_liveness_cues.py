"""The passive glare cue on a real portrait: a reflection on the skin counts, however
large; a white wall beside the face does not (a genuine applicant photographed against
one was vetoed as a glossy photo)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.vision.liveness_cues import glare_fraction, skin_ellipse

PHOTO = Path(__file__).parent / "data" / "liveness" / "img12.jpg"


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    image = cv2.imread(str(PHOTO))
    assert image is not None
    h, w = image.shape[:2]
    # the middle of the portrait: skin, eyes, nose, mouth, no background
    return image[int(h * 0.25) : int(h * 0.75), int(w * 0.35) : int(w * 0.65)].copy()


def test_a_normally_lit_face_has_no_glare(face: np.ndarray) -> None:
    assert glare_fraction(face) == 0.0


def test_a_white_reflection_on_the_face_is_glare(face: np.ndarray) -> None:
    lit = face.copy()
    h, w = lit.shape[:2]
    cv2.circle(lit, (w // 2, h // 2), min(h, w) // 5, (250, 250, 250), -1)
    blob = np.pi * (min(h, w) // 5) ** 2 / (h * w)
    assert glare_fraction(lit) == pytest.approx(blob, rel=0.15)


def test_a_white_wall_beside_the_face_is_not_glare(face: np.ndarray) -> None:
    # the applicant in front of a white wall: the crop's sides are white and colourless
    h, w = face.shape[:2]
    crop = np.full((h, w + 132, 3), 250, np.uint8)
    crop[:, 66 : 66 + w] = face
    eyes_y, mouth_y = 0.38 * h, 0.68 * h
    landmarks = np.float32(
        [[116, eyes_y], [184, eyes_y], [150, 0.53 * h], [124, mouth_y], [176, mouth_y]]
    )
    skin = skin_ellipse(crop.shape, landmarks)
    assert not skin[:, :66].any() and not skin[:, 66 + w :].any()
    assert glare_fraction(crop) > 0.4  # the whole crop, as the cue read it before
    assert glare_fraction(crop, skin) == 0.0


def test_a_reflection_on_a_bright_face_still_counts(face: np.ndarray) -> None:
    bright = np.clip(face.astype(np.float32) + 15, 0, 255).astype(np.uint8)
    skin = float(np.median(cv2.cvtColor(bright, cv2.COLOR_BGR2HSV)[..., 2]))
    assert 200 <= skin <= 215
    h, w = bright.shape[:2]
    cv2.circle(bright, (w // 2, h // 3), min(h, w) // 6, (255, 255, 255), -1)
    assert glare_fraction(bright) > 0.05


@pytest.mark.parametrize("share", [0.25, 0.4])
def test_a_large_reflection_cannot_hide_itself_by_raising_the_skin_level(
    face: np.ndarray, share: float
) -> None:
    lit = face.copy()
    h = lit.shape[0]
    lit[: int(h * share)] = (250, 250, 250)  # a sheen over the upper part of the face
    assert glare_fraction(lit) == pytest.approx(int(h * share) / h, abs=0.01)
