"""Dense landmarks cost per face crop on one CPU thread (the kiosk's setting).

Run: ``python benchmarks/bench_landmarks.py [--image tests/data/img2.jpg] [--n 50]``.
Times the whole `DenseLandmarker.infer` (crop, landmark model, blendshape model, mapping
back) and the blendshape model alone, after warm-up. Writes
``benchmarks/out/landmarks.json`` and prints one line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    import cv2
    import numpy as np

    from kiosk.config import RuntimeConfig, load_config
    from kiosk.vision.landmarks import BLENDSHAPE_SUBSET, DenseLandmarker
    from kiosk.vision.pipeline import FaceEngine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path, default=REPO / "tests" / "data" / "img2.jpg")
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    cfg = load_config(environ={"KIOSK_RUNTIME_PROVIDER": "cpu"})
    engine = FaceEngine.from_config(cfg)
    landmarker = DenseLandmarker.from_pack(engine.pack, RuntimeConfig(provider="cpu"))
    image = cv2.imread(str(args.image))
    face = engine.analyze(image, embed="none").primary
    if face is None:
        raise SystemExit(f"{args.image}: no face")
    lm = landmarker.infer(image, face.box, face.landmarks)
    subset = lm.points[list(BLENDSHAPE_SUBSET), :2].astype(np.float32)[None]
    blend = landmarker.blendshape_session

    def timed(fn) -> list[float]:
        for _ in range(5):
            fn()
        out = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000.0)
        return out

    total = timed(lambda: landmarker.infer(image, face.box, face.landmarks))
    blend_ms = timed(lambda: blend.session.run(None, {blend.input_name: subset})) if blend else []
    result = {
        "cpu": cpu_model(),
        "threads": 1,
        "n": args.n,
        "infer_ms_median": round(statistics.median(total), 2),
        "infer_ms_min": round(min(total), 2),
        "blendshapes_ms_median": round(statistics.median(blend_ms), 2) if blend_ms else None,
        "onnxruntime": __import__("onnxruntime").__version__,
    }
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "landmarks.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
