"""Where `kiosk eval`'s CPU goes per photo: read, decode, detect, align, quality, embed.

One thread, onnxruntime on one intra-op thread (what each eval worker uses), CPU time of
this thread (`time.thread_time`), so other processes on a shared machine do not inflate
it. Each stage is timed on its own, exactly as the eval worker runs it; the sum is the
floor of `kiosk eval`'s CPU per photo, before start-up, plots and the thread pool.

    python benchmarks/eval_stage_costs.py /tmp/eval_timing/images --every 5 \
        [--long-side 640] [--out benchmarks/out/eval_stage_costs.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from kiosk.config import load_config
from kiosk.vision.align import align_face
from kiosk.vision.image_header import read_file
from kiosk.vision.imageio import decode_image
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.quality import assess_face
from kiosk.vision.stills import STILL_LONG_SIDE

T = TypeVar("T")
STAGES = ("read", "decode", "detect", "align", "quality", "embed")


def stage_costs(folder: Path, every: int, long_side: int | None) -> dict[str, object]:
    cfg = load_config(None)
    cfg.runtime.intra_op_threads = 1  # as `kiosk eval` sets it: one thread per worker
    engine = FaceEngine.from_config(cfg)
    photos = sorted(folder.glob("*.jpg"))[::every]
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.thread_time

    def timed(stage: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        start = clock()
        value = fn(*args, **kwargs)
        spent[stage] += clock() - start
        return value

    for path in photos:
        data = timed("read", read_file, path)
        image = timed("decode", decode_image, data, path.name)
        side = long_side or min(max(image.shape[:2]), STILL_LONG_SIDE)
        dets = timed("detect", engine.detector.detect, image, long_side=side)
        if not len(dets):
            continue
        i = int(np.argmax(dets.areas))
        aligned = timed("align", align_face, image, dets.landmarks[i])
        timed(
            "quality",
            assess_face,
            image,
            dets.xyxy[i],
            dets.landmarks[i],
            float(dets.scores[i]),
            aligned,
            faces_in_view=1,
            cfg=cfg.quality,
        )
        timed("embed", engine.embedder.embed, aligned)
    per_photo = {k: round(v / len(photos) * 1000, 2) for k, v in spent.items()}
    return {
        "photos": len(photos),
        "long_side": long_side or "still rule",
        "cpu_ms_per_photo": per_photo,
        "total_cpu_ms_per_photo": round(sum(per_photo.values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("--every", type=int, default=5, help="time every n-th photo")
    parser.add_argument("--long-side", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/eval_stage_costs.json"))
    args = parser.parse_args()
    result = stage_costs(args.images, args.every, args.long_side)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
