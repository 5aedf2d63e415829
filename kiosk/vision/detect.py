"""Face detection: YuNet decoded in numpy on onnxruntime (the default pack), and the
common `Detections` result type every detector returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from kiosk.vision.packs import ModelSpec
from kiosk.vision.runtime import LoadedSession


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, in that image's pixel coordinates, best score first.

    >>> d = Detections.empty()
    >>> len(d)
    0
    """

    xyxy: np.ndarray  # (N, 4) float32: x1, y1, x2, y2
    scores: np.ndarray  # (N,) float32 in 0..1
    landmarks: (
        np.ndarray
    )  # (N, 5, 2) float32: eye (image left), eye (image right), nose, mouth left, mouth right

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0, 5, 2), np.float32),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __getitem__(self, index: int | slice | np.ndarray) -> Detections:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Detections(self.xyxy[index], self.scores[index], self.landmarks[index])

    @property
    def areas(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


class FaceDetector(Protocol):
    provider: str

    def detect(self, image_bgr: np.ndarray, long_side: int | None = None) -> Detections: ...


def nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    score_threshold: float,
    max_faces: int,
) -> np.ndarray:
    """Indices kept by non-maximum suppression, best first (OpenCV's C++ NMS)."""
    if len(scores) == 0:
        return np.zeros((0,), np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    # NMSBoxes' own top_k cuts candidates *before* suppression, which lets the many
    # anchors of one or two large faces crowd out everyone else: cap after NMS instead.
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), score_threshold, iou_threshold)
    return np.asarray(keep, dtype=np.int64).reshape(-1)[:max_faces]


def resize_for_detector(
    image: np.ndarray, long_side: int, multiple: int
) -> tuple[np.ndarray, float]:
    """Scale so the long side is `long_side`, then pad right/bottom to a stride multiple.

    Keeping the aspect ratio (no square letterbox) means a 640×480 frame costs a 320×256
    pass, not 320×320: fewer anchors, same face scale.
    """
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp) if scale != 1 else image
    ph, pw = -(-nh // multiple) * multiple, -(-nw // multiple) * multiple
    if (ph, pw) != (nh, nw):
        resized = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
    return resized, scale


class YuNetDetector:
    """YuNet 2023mar: per-stride cls/obj/bbox/kps heads, decoded like OpenCV's FaceDetectorYN."""

    def __init__(
        self,
        spec: ModelSpec,
        loaded: LoadedSession,
        *,
        long_side: int = 320,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_faces: int = 10,
    ) -> None:
        self.spec = spec
        self.session = loaded.session
        self.input_name = loaded.input_name
        self.provider = loaded.provider
        self.long_side = long_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_faces = max_faces
        self.strides = tuple(spec.extra.get("strides", (8, 16, 32)))
        self.multiple = int(spec.extra.get("stride_multiple", 32))
        self._output_names = [o.name for o in self.session.get_outputs()]
        self._grids: dict[tuple[int, int, int], np.ndarray] = {}

    def _grid(self, rows: int, cols: int, stride: int) -> np.ndarray:
        key = (rows, cols, stride)
        if key not in self._grids:
            yy, xx = np.mgrid[0:rows, 0:cols]
            self._grids[key] = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
        return self._grids[key]

    def detect(self, image_bgr: np.ndarray, long_side: int | None = None) -> Detections:
        resized, scale = resize_for_detector(image_bgr, long_side or self.long_side, self.multiple)
        h, w = resized.shape[:2]
        blob = resized.transpose(2, 0, 1)[np.newaxis].astype(np.float32)  # raw 0-255 BGR
        outputs = dict(
            zip(self._output_names, self.session.run(None, {self.input_name: blob}), strict=True)
        )
        boxes, scores, kps = [], [], []
        for s in self.strides:
            cls = outputs[f"cls_{s}"][0, :, 0]
            obj = outputs[f"obj_{s}"][0, :, 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = score >= self.score_threshold
            if not keep.any():
                continue
            grid = self._grid(h // s, w // s, s)[keep]
            bbox = outputs[f"bbox_{s}"][0][keep]
            centre = (grid + bbox[:, :2]) * s
            size = np.exp(bbox[:, 2:]) * s
            boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
            kps.append(((outputs[f"kps_{s}"][0][keep].reshape(-1, 5, 2)) + grid[:, None, :]) * s)
            scores.append(score[keep])
        if not scores:
            return Detections.empty()
        xyxy = np.concatenate(boxes).astype(np.float32) / scale
        all_scores = np.concatenate(scores).astype(np.float32)
        landmarks = np.concatenate(kps).astype(np.float32) / scale
        keep_idx = nms(xyxy, all_scores, self.nms_threshold, self.score_threshold, self.max_faces)
        return Detections(xyxy[keep_idx], all_scores[keep_idx], landmarks[keep_idx])
