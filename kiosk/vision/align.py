"""5-point similarity alignment to the 112×112 crop ArcFace and SFace were trained on."""

from __future__ import annotations

import cv2
import numpy as np

# insightface's arcface_dst (also OpenCV's FaceRecognizerSF template), 112×112.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def similarity_transform(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """2×3 matrix mapping the five landmarks onto the template.

    Least-squares similarity (Umeyama, no reflection) over all five points, the same
    estimate as insightface's `norm_crop` (skimage SimilarityTransform): a robust
    estimator would drop a mouth corner and tilt the crop the models never saw.
    """
    dst = ARCFACE_TEMPLATE.astype(np.float64) * (size / 112.0)
    return _umeyama(landmarks.astype(np.float64), dst).astype(np.float32)


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    mean_s, mean_d = src.mean(0), dst.mean(0)
    s, d = src - mean_s, dst - mean_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var = (s**2).sum() / len(src)
    scale = (sig * sign).sum() / var if var > 0 else 1.0
    t = mean_d - scale * rot @ mean_s
    return np.hstack([scale * rot, t[:, None]])


def align_face(image_bgr: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp the face to a `size`×`size` BGR crop."""
    matrix = similarity_transform(landmarks, size)
    return cv2.warpAffine(image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
