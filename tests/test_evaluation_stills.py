"""Which face a still photo is about: the face-rule arithmetic on boxes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from kiosk.vision.stills import choose_face


def faces(*boxes: tuple[float, float, float, float]) -> list[Any]:
    return [SimpleNamespace(box=np.array(b, dtype=np.float32)) for b in boxes]


def test_centre_takes_the_face_nearest_the_middle_and_largest_the_first() -> None:
    # 1280x720 frame: a big bystander on the left (listed first: largest first), the
    # subject's box centred at (640, 360).
    found = faces((0, 100, 400, 600), (580, 280, 700, 440))
    assert choose_face(found, (720, 1280), "centre") == 1
    assert choose_face(found, (720, 1280), "largest") == 0


def test_centre_ties_go_to_the_larger_face() -> None:
    # Both centres 100 px from (640, 360): the first (larger) wins.
    found = faces((440, 260, 640, 460), (700, 320, 780, 400))
    assert choose_face(found, (720, 1280), "centre") == 0


def test_no_faces_or_unknown_rule() -> None:
    with pytest.raises(ValueError):
        choose_face([], (10, 10), "centre")
    with pytest.raises(ValueError):
        choose_face(faces((0, 0, 1, 1)), (10, 10), "biggest")  # type: ignore[arg-type]
