"""Model-free face image quality, with measure names as in ISO/IEC 29794-5 (reference
implementation: OFIQ). Each measure gives a raw value, a 0–100 score and, when it
fails, a reason code the UI turns into a short prompt ("come closer", "too dark").

Head pose comes from the five landmarks alone, so it is an estimate (±5–10°) good
enough to gate capture and drive a turn-your-head challenge, not a measurement.
Sign convention: yaw > 0 when the nose moves towards the image's right side; pitch > 0
when the face tilts up; roll > 0 when the eye line rises to the image's right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from kiosk.config import QualityConfig

# Depth of the nose tip in front of the eye plane relative to inter-eye distance, and
# in front of the eye–mouth plane relative to eye–mouth distance (adult mean face).
_NOSE_DEPTH_PER_IED = 0.55
_NOSE_DEPTH_PER_EYE_MOUTH = 0.45
# Where YuNet puts the nose tip between eye line and mouth line on a frontal face:
# median over the 64 photos of ../shared/faces (10th–90th percentile 0.55–0.63).
_FRONTAL_NOSE_RATIO = 0.59

# Prompt priority: the first failing reason is what the applicant is told first.
REASON_PRIORITY = (
    "no_face",
    "only_one_person",
    "face_partly_outside",
    "move_closer",
    "move_back",
    "look_at_camera",
    "straighten_head",
    "too_dark",
    "too_bright",
    "uneven_light",
    "hold_still",
    "face_unclear",
)


@dataclass(frozen=True)
class QualityMeasure:
    name: str  # ISO/IEC 29794-5 / OFIQ measure name
    raw: float
    score: float  # 0 (worst) .. 100 (best)
    ok: bool
    reason: str | None = None  # reason code when not ok


@dataclass(frozen=True)
class HeadPose:
    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class QualityReport:
    measures: tuple[QualityMeasure, ...]
    pose: HeadPose
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def prompt(self) -> str | None:
        """The one reason to show first, or None when the face is good."""
        return self.reasons[0] if self.reasons else None

    @property
    def score(self) -> float:
        """Unified score: the weakest measure decides (a face is as good as its worst aspect)."""
        return min((m.score for m in self.measures), default=0.0)

    def get(self, name: str) -> QualityMeasure:
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "score": round(self.score, 1),
            "reasons": list(self.reasons),
            "pose": {
                "yaw": round(self.pose.yaw, 1),
                "pitch": round(self.pose.pitch, 1),
                "roll": round(self.pose.roll, 1),
            },
            "measures": {
                m.name: {"raw": round(m.raw, 3), "score": round(m.score, 1), "ok": m.ok}
                for m in self.measures
            },
        }


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at `bad`, 100 at `good`, linear between (either direction)."""
    if good == bad:
        return 100.0
    t = (value - bad) / (good - bad)
    return float(np.clip(t, 0.0, 1.0) * 100.0)


def estimate_head_pose(landmarks: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll in degrees from five landmarks (see module docstring for signs)."""
    lm = landmarks.astype(np.float64)
    eye_l, eye_r, nose, mouth_l, mouth_r = lm
    eye_vec = eye_r - eye_l
    roll = math.degrees(math.atan2(-eye_vec[1], eye_vec[0]))
    # Express everything in a frame where the eye line is horizontal.
    c, s = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    rot = np.array([[c, s], [-s, c]])
    eye_mid = (eye_l + eye_r) / 2
    pts = (lm - eye_mid) @ rot.T
    ied = max(np.linalg.norm(pts[1] - pts[0]), 1e-6)
    mouth_mid = (pts[3] + pts[4]) / 2
    # The facial midline runs from the eye midpoint to the mouth midpoint; the nose's
    # horizontal offset from it measures yaw, its height between the lines measures pitch.
    eye_mouth = max(mouth_mid[1], 1e-6)
    midline_x = mouth_mid[0] * (pts[2][1] / eye_mouth)
    yaw = math.degrees(math.atan((pts[2][0] - midline_x) / (_NOSE_DEPTH_PER_IED * ied)))
    ratio = pts[2][1] / eye_mouth
    pitch = math.degrees(math.atan((_FRONTAL_NOSE_RATIO - ratio) / _NOSE_DEPTH_PER_EYE_MOUTH))
    del nose, mouth_l, mouth_r
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def assess_face(
    image_bgr: np.ndarray,
    box: np.ndarray,
    landmarks: np.ndarray,
    det_score: float,
    aligned_bgr: np.ndarray,
    *,
    faces_in_view: int,
    cfg: QualityConfig,
) -> QualityReport:
    """Quality of one detected face in its frame."""
    h, w = image_bgr.shape[:2]
    pose = estimate_head_pose(landmarks)
    measures: list[QualityMeasure] = []

    def add(name: str, raw: float, score: float, ok: bool, reason: str) -> None:
        measures.append(
            QualityMeasure(name, float(raw), float(score), bool(ok), None if ok else reason)
        )

    add(
        "SingleFacePresent",
        faces_in_view,
        100.0 if faces_in_view == 1 else 0.0,
        faces_in_view == 1,
        "only_one_person" if faces_in_view > 1 else "no_face",
    )

    x1, y1, x2, y2 = box
    inside = x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h
    add("FaceInFrame", float(inside), 100.0 if inside else 0.0, inside, "face_partly_outside")

    ied = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    add(
        "InterEyeDistance",
        ied,
        _ramp(ied, cfg.min_inter_eye_px * 0.5, cfg.min_inter_eye_px * 1.5),
        ied >= cfg.min_inter_eye_px,
        "move_closer",
    )

    head_frac = float((y2 - y1) / h)
    too_big = head_frac > 0.9
    add(
        "HeadSize",
        head_frac,
        _ramp(head_frac, cfg.min_face_height_frac * 0.5, cfg.min_face_height_frac * 1.5),
        cfg.min_face_height_frac <= head_frac and not too_big,
        "move_back" if too_big else "move_closer",
    )

    for name, value, limit in (
        ("HeadPoseYaw", pose.yaw, cfg.max_yaw_deg),
        ("HeadPosePitch", pose.pitch, cfg.max_pitch_deg),
    ):
        add(name, value, _ramp(abs(value), limit * 2, 0), abs(value) <= limit, "look_at_camera")
    add(
        "HeadPoseRoll",
        pose.roll,
        _ramp(abs(pose.roll), cfg.max_roll_deg * 2, 0),
        abs(pose.roll) <= cfg.max_roll_deg,
        "straighten_head",
    )

    gray = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY)
    # The inner face (eyes to chin, cheek to cheek) avoids background and hair.
    inner = gray[28:106, 24:88]
    lum = float(inner.mean())
    lum_ok = cfg.min_luminance <= lum <= cfg.max_luminance
    lum_reason = "too_dark" if lum < cfg.min_luminance else "too_bright"
    mid = (cfg.min_luminance + cfg.max_luminance) / 2
    add("Luminance", lum, _ramp(abs(lum - mid), mid, 0), lum_ok, lum_reason)

    under = float((inner < 30).mean())
    add(
        "UnderExposurePrevention",
        under,
        _ramp(under, cfg.max_underexposed_frac * 2, 0),
        under <= cfg.max_underexposed_frac,
        "too_dark",
    )
    over = float((inner > 245).mean())
    add(
        "OverExposurePrevention",
        over,
        _ramp(over, cfg.max_overexposed_frac * 2, 0),
        over <= cfg.max_overexposed_frac,
        "too_bright",
    )

    left, right = float(inner[:, :32].mean()), float(inner[:, 32:].mean())
    uniformity = min(left, right) / max(left, right, 1e-6)
    add(
        "IlluminationUniformity",
        uniformity,
        _ramp(uniformity, cfg.min_illumination_uniformity * 0.7, 1.0),
        uniformity >= cfg.min_illumination_uniformity,
        "uneven_light",
    )

    sharp = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    add(
        "Sharpness",
        sharp,
        _ramp(sharp, cfg.min_sharpness * 0.5, cfg.min_sharpness * 3),
        sharp >= cfg.min_sharpness,
        "hold_still",
    )

    add(
        "DetectionConfidence",
        det_score,
        _ramp(det_score, cfg.min_det_score * 0.8, 1.0),
        det_score >= cfg.min_det_score,
        "face_unclear",
    )

    failing = {m.reason for m in measures if m.reason}
    reasons = tuple(r for r in REASON_PRIORITY if r in failing)
    return QualityReport(tuple(measures), pose, reasons)
