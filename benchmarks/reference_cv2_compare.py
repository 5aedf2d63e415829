"""The cv2 reference's cold start: `kiosk compare A B` done the peer's way, with nothing
but OpenCV and numpy (cv2.FaceDetectorYN + cv2.FaceRecognizerSF on the pack's model
files; see kiosk/evaluation/cv2_reference.py for which files OpenCV 5 can read).
`kiosk bench --reference cv2` times it in a fresh process beside `kiosk compare`.

    python benchmarks/reference_cv2_compare.py DETECTOR.onnx RECOGNIZER.onnx A.jpg B.jpg
"""

import sys

import cv2
import numpy as np


def main(det_path: str, rec_path: str, a: str, b: str) -> int:
    rec = cv2.FaceRecognizerSF.create(rec_path, "")
    features = []
    for path in (a, b):
        image = cv2.imread(path)
        h, w = image.shape[:2]
        scale = 640 / max(h, w)
        small = cv2.resize(image, (round(w * scale), round(h * scale)))
        det = cv2.FaceDetectorYN.create(det_path, "", (small.shape[1], small.shape[0]))
        _n, faces = det.detect(small)
        if faces is None:
            print(f"{path}: no face")
            return 2
        face = faces[np.argmax(faces[:, 2] * faces[:, 3])].copy()
        face[:14] /= scale
        features.append(rec.feature(rec.alignCrop(image, face)))
    score = rec.match(features[0], features[1], cv2.FaceRecognizerSF_FR_COSINE)
    print(f"similarity {score:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
