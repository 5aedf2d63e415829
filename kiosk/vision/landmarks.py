"""Dense face landmarks: MediaPipe Face Landmarker v2 (478 points + 52 blendshapes) on ORT.

The detector's five points make pitch noisy (the nose tip is the only depth cue), so the
liveness challenge needs a dense mesh. The pack declares the landmark model (`role =
"landmark"`), optionally the blendshape model (`role = "attribute"`, kind
`mediapipe-blendshapes-v2`) and the canonical face mesh used for head pose; all three are
hashed against the manifest before a session opens.

Crop rule: MediaPipe tracks a face with a square 1.5× the extent of its previous mesh,
rotated so the eye line is level; the model is most at home there. From a YuNet box the
same square is `roi_scale` (1.37) × the box's longer side, centred `roi_shift` (0.06) of
that side below the box centre (the manifest says how both were measured), rotated by
the detector's two eye points (upright without them), resized to 256×256 RGB in 0..1.
The model answers in crop pixels; points are mapped back through the same rotation, z is
scaled like x and y (relative depth: smaller is nearer the camera). A second pass on the
ROI of the first pass's mesh moves points by 0.7 % of the eye distance on average (32
held-out photos), so one pass is enough.

    landmarker = DenseLandmarker.from_pack(engine.pack, cfg.runtime)  # once
    lm = landmarker.infer(frame, face.box, face.landmarks)  # per frame
    head_pose(lm.points, landmarker.canonical_mesh).yaw  # kiosk.vision.landmark_cues
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from kiosk.config import RuntimeConfig
from kiosk.errors import ModelIntegrityError, ModelPackError
from kiosk.vision.packs import ModelPack, ModelSpec, sha256_file
from kiosk.vision.runtime import LoadedSession, create_session

log = logging.getLogger(__name__)

LANDMARK_KIND = "mediapipe-facemesh-v2"
BLENDSHAPE_KIND = "mediapipe-blendshapes-v2"
NUM_POINTS = 478

# The 146 of the 478 points the blendshape model reads, and its 52 outputs, in model order
# (kLandmarksSubsetIdxs / kBlendshapeNames of MediaPipe's face_blendshapes_graph.cc).
BLENDSHAPE_SUBSET = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63,
    65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163,
    168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270,
    276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317,
    318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379,
    380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)  # fmt: skip
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip


@dataclass(frozen=True)
class FaceRoi:
    """The rotated square the model saw: centre and side in frame pixels, angle in radians."""

    centre: tuple[float, float]
    size: float
    angle: float

    def crop_to_frame(self, side: int) -> np.ndarray:
        """2×3 affine map from crop pixels (0..side) to frame pixels."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.size / side
        cx, cy = self.centre
        half = side / 2.0
        return np.array(
            [
                [k * c, -k * s, cx - k * half * (c - s)],
                [k * s, k * c, cy - k * half * (s + c)],
            ],
            np.float64,
        )


@dataclass(frozen=True)
class DenseLandmarks:
    """One face's dense mesh in frame pixels.

    `points` (478, 3): x, y in frame pixels, z relative depth in the same scale; indices
    follow MediaPipe's face mesh (1 nose tip, 33/263 eye outer corners, 468/473 iris
    centres of the subject's right/left eye, 13/14 inner lips, 61/291 mouth corners).
    """

    points: np.ndarray
    presence: float  # 0..1: the model's belief that the crop holds a face
    blendshapes: dict[str, float] = field(default_factory=dict)  # empty without the model
    roi: FaceRoi | None = None


def face_roi(
    box: np.ndarray, five_points: np.ndarray | None, scale: float, shift: float = 0.0
) -> FaceRoi:
    """The crop square: `scale` × the box's longer side, its centre moved `shift` × that
    side down the face (along the levelled vertical), rotated by the eye line."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64)[:4])
    angle = 0.0
    if five_points is not None:
        pts = np.asarray(five_points, np.float64).reshape(-1, 2)
        # YuNet order: the subject's right eye (image left) first, then the left eye.
        dx, dy = pts[1] - pts[0]
        angle = math.atan2(dy, dx)
    side = max(x2 - x1, y2 - y1)
    down = (-math.sin(angle) * shift * side, math.cos(angle) * shift * side)
    return FaceRoi(((x1 + x2) / 2.0 + down[0], (y1 + y2) / 2.0 + down[1]), side * scale, angle)


def load_canonical_mesh(spec: ModelSpec) -> np.ndarray:
    """(468, 4) canonical mesh x, y, z (cm) and Procrustes weight, hashed like a model."""
    name = spec.extra.get("canonical_mesh")
    expected = spec.extra.get("canonical_mesh_sha256", "")
    if not name:
        raise ModelPackError(f"landmark model {spec.file}: manifest names no canonical_mesh")
    path = spec.path.parent / str(name)
    if not path.is_file():
        raise ModelIntegrityError(f"canonical mesh {name} is missing from {path.parent}")
    digest = sha256_file(path)
    if digest != str(expected).lower():
        raise ModelIntegrityError(
            f"canonical mesh {name} does not match its manifest "
            f"(sha256 {digest[:12]}…, expected {str(expected)[:12]}…): modified or truncated"
        )
    mesh = np.loadtxt(path, delimiter=",", comments="#", skiprows=2, dtype=np.float64)
    if mesh.shape != (468, 4):
        raise ModelPackError(f"canonical mesh {name}: expected 468 rows of x,y,z,w")
    return mesh


class DenseLandmarker:
    """The landmark model (and the blendshape model when the pack has one) on one face."""

    def __init__(
        self,
        spec: ModelSpec,
        loaded: LoadedSession,
        canonical_mesh: np.ndarray,
        blendshapes: LoadedSession | None = None,
    ) -> None:
        self.spec = spec
        self.session = loaded.session
        self.input_name = loaded.input_name
        self.provider = loaded.provider
        self.canonical_mesh = canonical_mesh
        self.blendshape_session = blendshapes
        width, height = (int(v) for v in spec.input_size)
        if width != height or width <= 0:
            raise ModelPackError(f"landmark model {spec.file}: input_size must be square")
        self.side = width
        self.roi_scale = float(spec.extra.get("roi_scale", 1.5))
        self.roi_shift = float(spec.extra.get("roi_shift", 0.0))
        self._mean = np.asarray(spec.mean, np.float32)
        self._inv_std = 1.0 / np.asarray(spec.std, np.float32)

    @classmethod
    def from_pack(
        cls, pack: ModelPack, runtime: RuntimeConfig | None = None, *, threads: int | None = None
    ) -> DenseLandmarker:
        """Verify and open the pack's landmark (and blendshape) models.

        `runtime` gives the provider and graph settings (as for the other models); the
        thread count is `threads`, by default the process budget's
        `landmark_intra_op_threads` (one): the landmarker runs beside the detector and
        recogniser on a small kiosk CPU.
        """
        runtime = runtime or RuntimeConfig()
        if threads is not None:
            runtime = replace(runtime, landmark_intra_op_threads=threads)
        spec = pack.get("landmark")
        if spec.kind != LANDMARK_KIND:
            raise ModelPackError(f"no dense landmarker for kind {spec.kind!r}")
        spec.verify()
        mesh = load_canonical_mesh(spec)
        blend = None
        for other in pack.models:
            if other.role == "attribute" and other.kind == BLENDSHAPE_KIND:
                other.verify()
                blend = create_session(other.path, runtime, role="attribute")
        model = cls(spec, create_session(spec.path, runtime, role="landmark"), mesh, blend)
        log.info(
            "dense landmarker %s on %s (blendshapes: %s)",
            spec.file,
            model.provider,
            "yes" if blend else "no",
        )
        return model

    def warm_up(self) -> None:
        """Run both models once on a blank crop: ORT's first run allocates and can take
        ~10× a normal one, which must not fall inside an applicant's challenge (a long
        gap between analysed frames reads as a lost face)."""
        self.infer(np.zeros((self.side, self.side, 3), np.uint8), np.array([0, 0, 128, 128]))

    def infer(
        self, frame_bgr: np.ndarray, box: np.ndarray, five_points: np.ndarray | None = None
    ) -> DenseLandmarks:
        """478 points (frame pixels), face presence and blendshapes for the face in `box`.

        `box` is x1, y1, x2, y2; `five_points` the detector's landmarks (eyes first), which
        level the crop. Without them the crop is upright, fine for roll within ~±15°.
        """
        roi = face_roi(box, five_points, self.roi_scale, self.roi_shift)
        to_frame = roi.crop_to_frame(self.side)
        to_crop = cv2.invertAffineTransform(to_frame)
        crop = cv2.warpAffine(
            frame_bgr,
            to_crop,
            (self.side, self.side),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        rgb = crop[..., ::-1] if self.spec.colour_order == "RGB" else crop
        blob = ((rgb.astype(np.float32) - self._mean) * self._inv_std).transpose(2, 0, 1)
        raw, logit = self.session.run(None, {self.input_name: np.ascontiguousarray(blob[None])})
        crop_pts = np.asarray(raw, np.float64).reshape(NUM_POINTS, 3)
        points = np.empty_like(crop_pts)
        points[:, :2] = crop_pts[:, :2] @ to_frame[:, :2].T + to_frame[:, 2]
        points[:, 2] = crop_pts[:, 2] * (roi.size / self.side)
        presence = float(1.0 / (1.0 + math.exp(-float(np.asarray(logit).reshape(-1)[0]))))
        return DenseLandmarks(points, presence, self._blendshapes(points), roi)

    def _blendshapes(self, points: np.ndarray) -> dict[str, float]:
        if self.blendshape_session is None:
            return {}
        # MediaPipe feeds image-pixel x, y of the subset; the model normalises them itself.
        subset = points[list(BLENDSHAPE_SUBSET), :2].astype(np.float32)[None]
        session = self.blendshape_session
        (scores,) = session.session.run(None, {session.input_name: subset})
        values = np.asarray(scores, np.float64).reshape(-1)
        if values.size != len(BLENDSHAPE_NAMES):
            raise ModelPackError(f"blendshape model gives {values.size} scores, expected 52")
        return dict(zip(BLENDSHAPE_NAMES, values.tolist(), strict=True))


__all__ = ["BLENDSHAPE_NAMES", "DenseLandmarker", "DenseLandmarks", "FaceRoi", "face_roi"]
