"""Is the camera seeing anything? A covered lens, a blocked view or a dark room give
frames that are near-uniform or near-black; the face detector then simply finds no face,
and the applicant was told "stand in front of the camera" while standing in front of it.

Judged on a coarse grey sample (every 8th pixel), a few hundred microseconds a frame.
Thresholds are on 8-bit grey levels: a covered lens reads as one flat level (a finger, a
sticker, a cap) with a spread below `FLAT_STD`; a dark room as a mean below `DARK_MEAN`.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

FLAT_STD = 6.0
DARK_MEAN = 35.0


class LensView(StrEnum):
    OK = "ok"
    COVERED = "covered"  # near-uniform picture: lens covered or view blocked
    DARK = "dark"  # too little light to see a face


def lens_view(frame_bgr: np.ndarray) -> LensView:
    """What the camera's picture says about the lens and the light."""
    sample = np.asarray(frame_bgr)[::8, ::8]
    grey = sample.mean(axis=2) if sample.ndim == 3 else sample
    if float(grey.std()) < FLAT_STD:
        return LensView.COVERED
    if float(grey.mean()) < DARK_MEAN:
        return LensView.DARK
    return LensView.OK


__all__ = ["DARK_MEAN", "FLAT_STD", "LensView", "lens_view"]
