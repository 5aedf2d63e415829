"""SCRFD face detection (InsightFace packs) through insightface's own decoder, on the
session `runtime.create_session` opened, so threads, provider and the integrity check
stay the kiosk's.

insightface is an optional extra (`pip install -e ".[insightface]"`): it pulls scipy,
scikit-image and more into an install, and only a user-installed InsightFace pack needs
it, so it is imported here, when such a pack is loaded, and never by the default pack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiosk.config import VisionConfig
from kiosk.errors import MissingDependency, ModelPackError
from kiosk.vision.detect import Detections
from kiosk.vision.packs.manifest import ModelSpec
from kiosk.vision.runtime import LoadedSession

INSIGHTFACE_EXTRA = "insightface"


def _insightface_scrfd() -> Any:
    """insightface's SCRFD class, or a MissingDependency naming the extra to install."""
    try:
        from insightface.model_zoo.scrfd import SCRFD
    except ImportError:
        raise MissingDependency(
            "this model pack uses an InsightFace SCRFD detector, which needs the insightface "
            f"package: install the kiosk with its [{INSIGHTFACE_EXTRA}] extra "
            f'(pip install -e ".[{INSIGHTFACE_EXTRA}]")'
        ) from None
    return SCRFD


class ScrfdDetector:
    """SCRFD through insightface's decoder, on the session `runtime.create_session` opened.

    Frames are scaled so their long side is `long_side` and padded to a multiple of the
    largest stride (SCRFD letterboxes into that size), as the YuNet path does. Mean, std
    and colour order come from the manifest; insightface's SCRFD hard-codes RGB input.
    """

    def __init__(self, spec: ModelSpec, loaded: LoadedSession, vision_cfg: VisionConfig) -> None:
        SCRFD = _insightface_scrfd()
        if spec.colour_order != "RGB" or len(set(spec.mean)) != 1 or len(set(spec.std)) != 1:
            raise ModelPackError(
                f"{spec.file}: SCRFD takes RGB with one mean/std for all channels; "
                f"manifest says {spec.colour_order} mean {spec.mean} std {spec.std}"
            )
        # static_shape_sessions=False: one session (ours) for every input size, instead
        # of insightface opening a fresh session per size with its own default settings.
        self._scrfd = SCRFD(
            model_file=str(spec.path), session=loaded.session, static_shape_sessions=False
        )
        if not self._scrfd.use_kps:
            raise ModelPackError(f"{spec.file}: SCRFD graph without landmark outputs")
        self._scrfd.input_mean = float(spec.mean[0])
        self._scrfd.input_std = float(spec.std[0])
        self._scrfd.nms_thresh = vision_cfg.nms_iou_threshold
        self.spec = spec
        self.provider = loaded.provider
        self.long_side = vision_cfg.detector_long_side
        self.score_threshold = vision_cfg.det_score_threshold
        self.max_faces = vision_cfg.max_faces
        self.multiple = max(self._scrfd._feat_stride_fpn)

    def input_size(self, shape: tuple[int, ...], long_side: int) -> tuple[int, int]:
        """(width, height) SCRFD letterboxes a frame of `shape` into."""
        if self._scrfd.static_input_size is not None:
            return tuple(self._scrfd.static_input_size)
        h, w = shape[:2]
        scale = long_side / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        m = self.multiple
        return (-(-nw // m) * m, -(-nh // m) * m)

    def detect(self, image_bgr: np.ndarray, long_side: int | None = None) -> Detections:
        size = self.input_size(image_bgr.shape, long_side or self.long_side)
        det, kpss = self._scrfd.detect(image_bgr, input_size=size, det_thresh=self.score_threshold)
        if det.shape[0] == 0 or kpss is None:
            return Detections.empty()
        det, kpss = det[: self.max_faces], kpss[: self.max_faces]  # best score first
        return Detections(
            det[:, :4].astype(np.float32),
            det[:, 4].astype(np.float32),
            kpss.reshape(-1, 5, 2).astype(np.float32),
        )


__all__ = ["INSIGHTFACE_EXTRA", "ScrfdDetector"]
