"""A covered lens or a dark room, told apart from "nobody in front of the camera"."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kiosk.camera.lens import LensView, lens_view

DATA = Path(__file__).resolve().parent / "data"


def test_a_real_face_photo_is_ok() -> None:
    assert lens_view(cv2.imread(str(DATA / "img2.jpg"))) is LensView.OK


def test_a_thumb_or_a_cap_on_the_lens_is_covered() -> None:
    rng = np.random.default_rng(0)
    thumb = np.clip(40 + rng.normal(0, 2, (480, 640, 3)), 0, 255).astype(np.uint8)
    assert lens_view(thumb) is LensView.COVERED
    assert lens_view(np.full((480, 640, 3), 230, np.uint8)) is LensView.COVERED  # a white card


def test_a_dark_room_is_dark_not_covered() -> None:
    photo = cv2.imread(str(DATA / "img2.jpg"))
    dim = (photo.astype(np.float32) * 0.12).astype(np.uint8)  # lights off, a face barely there
    assert lens_view(dim) is LensView.DARK
