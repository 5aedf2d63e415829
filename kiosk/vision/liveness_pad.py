"""The optional ONNX presentation-attack-detection (PAD) model slot.

A pack may declare a model with `role = "pad"` (kind "generic"). None ships: no openly
licensed PAD weights reach this machine, so the model-free cues must stand alone. When a
pack does carry one, its live-probability joins the passive score as the `pad_model` cue.

Manifest contract (keys beyond the common ones go to `ModelSpec.extra`):
- `input_size = [w, h]`, `colour_order`, `mean`, `std`: pre-processing, as for any model.
- `crop_scale` (default 1.5): the face box is grown by this before cropping, because
  most PAD models look at the context around the face (a sheet edge, a bezel).
- `live_index` (default 1): with a two-or-more-class output, the column that means "live";
  with a single output, it is taken as the live probability (a sigmoid is applied when
  the value lies outside 0..1).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from kiosk.config import RuntimeConfig
from kiosk.errors import ModelPackError
from kiosk.vision.liveness_cues import clamp_box
from kiosk.vision.packs import ModelSpec
from kiosk.vision.runtime import LoadedSession

log = logging.getLogger(__name__)


class PadModel:
    """One PAD network: `infer(frame, box)` → probability that the face is live (0..1)."""

    def __init__(self, spec: ModelSpec, loaded: LoadedSession) -> None:
        self.spec = spec
        self.session = loaded.session
        self.input_name = loaded.input_name
        self.provider = loaded.provider
        shape = self.session.get_inputs()[0].shape
        if spec.input_size != (0, 0):
            self.size = (int(spec.input_size[0]), int(spec.input_size[1]))
        elif len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
            self.size = (int(shape[3]), int(shape[2]))
        else:
            raise ModelPackError(f"PAD model {spec.file}: input_size must be declared")
        self.crop_scale = float(spec.extra.get("crop_scale", 1.5))
        self.live_index = int(spec.extra.get("live_index", 1))
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        self._inv_std = (1.0 / np.asarray(spec.std, np.float32)).reshape(1, 3, 1, 1)

    def infer(self, frame_bgr: np.ndarray, box: np.ndarray) -> float:
        x1, y1, x2, y2 = clamp_box(np.asarray(box, np.float32), frame_bgr.shape, self.crop_scale)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return float("nan")
        crop = cv2.resize(frame_bgr[y1:y2, x1:x2], self.size, interpolation=cv2.INTER_LINEAR)
        blob = crop[np.newaxis].astype(np.float32)
        if self.spec.colour_order == "RGB":
            blob = blob[..., ::-1]
        blob = (blob.transpose(0, 3, 1, 2) - self._mean) * self._inv_std
        out = np.asarray(self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})[0])
        out = out.reshape(-1).astype(np.float64)
        if out.size == 1:
            value = float(out[0])
            return value if 0.0 <= value <= 1.0 else float(1.0 / (1.0 + np.exp(-value)))
        if not 0 <= self.live_index < out.size:
            raise ModelPackError(
                f"PAD model {self.spec.file}: live_index {self.live_index} but {out.size} outputs"
            )
        if out.min() < 0 or abs(out.sum() - 1.0) > 1e-3:  # logits: soft-max them
            out = np.exp(out - out.max())
            out /= out.sum()
        return float(out[self.live_index])


def load_pad_model(spec: ModelSpec, runtime_cfg: RuntimeConfig) -> PadModel:
    """Verify (SHA-256 against the manifest) and open the pack's PAD model."""
    from kiosk.vision.runtime import create_session

    spec.verify()
    model = PadModel(spec, create_session(spec.path, runtime_cfg))
    log.info("PAD model %s loaded on %s (input %s)", spec.file, model.provider, model.size)
    return model
