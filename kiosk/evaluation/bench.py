"""`kiosk bench`: per-stage latency of the face pipeline on door-camera-like frames.

Frames are made from real portraits placed in 640×480 and 1280×720 canvases the way a
door camera sees an applicant (face about 40% of the frame height) and JPEG-encoded,
because webcams deliver MJPEG and decoding is part of the frame's cost.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import KioskConfig
from kiosk.vision.imageio import decode_image, read_image
from kiosk.vision.pipeline import STAGES, FaceEngine

SIZES = ((640, 480), (1280, 720))


def make_door_frame(portrait: np.ndarray, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Fit a portrait into a frame of `size` (w, h) against a plain wall with sensor noise.

    The wall must hold no face: a blurred, enlarged copy of the portrait as background
    gets detected as a second, bigger face at low detector resolutions.
    """
    w, h = size
    ph, pw = portrait.shape[:2]
    scale = h / ph
    fg = cv2.resize(portrait, (max(1, int(pw * scale)), h), interpolation=cv2.INTER_AREA)
    ramp = np.linspace(150, 110, w, dtype=np.float32)[None, :, None]
    noise = np.random.default_rng(seed).normal(0, 3, (h, w, 3)).astype(np.float32)
    frame = np.clip(np.broadcast_to(ramp, (h, w, 3)) + noise, 0, 255).astype(np.uint8)
    fw = min(fg.shape[1], w)
    x0, fx0 = (w - fw) // 2, (fg.shape[1] - fw) // 2
    frame[:, x0 : x0 + fw] = fg[:, fx0 : fx0 + fw]
    return frame


ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine_info() -> dict[str, object]:
    """CPU model, cores and the ISA flags that matter to onnxruntime/OpenCV kernels: every
    figure in the README table is stated next to these."""
    model, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    return {
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "isa": [f for f in ISA_FLAGS if f in flags],
        "platform": platform.platform(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(a)),
        "p95": float(np.percentile(a, 95)),
        "mean": float(a.mean()),
        "min": float(a.min()),
    }


def bench_providers() -> list[str]:
    """The execution providers `run_bench` times: CPU, and CUDA where it is available."""
    from kiosk.vision.runtime import available_providers

    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in available_providers() else [])


def run_bench(
    cfg: KioskConfig,
    portraits: list[Path],
    frames: int = 200,
    warmup: int = 10,
    on_frame: Callable[[], None] | None = None,
) -> dict[str, object]:
    """Benchmark every available provider; returns a JSON-ready dict. `on_frame` is
    called after each frame (warm-up included) for a progress bar: there are
    len(bench_providers()) * len(SIZES) * (warmup + frames) of them."""
    providers = bench_providers()
    images = [read_image(p) for p in portraits]
    result: dict[str, object] = {
        "machine": machine_info(),
        "threads": cfg.runtime.intra_op_threads,
        "detector_long_side": cfg.vision.detector_long_side,
        "frames": frames,
        "runs": [],
    }
    for provider in providers:
        run_cfg = replace(cfg, runtime=replace(cfg.runtime, provider=provider))
        t0 = time.perf_counter()
        engine = FaceEngine.from_config(run_cfg)
        load_total = (time.perf_counter() - t0) * 1000
        for size in SIZES:
            encoded = [
                cv2.imencode(".jpg", make_door_frame(im, size), [cv2.IMWRITE_JPEG_QUALITY, 90])[
                    1
                ].tobytes()
                for im in images
            ]
            per_stage: dict[str, list[float]] = {s: [] for s in ("decode", *STAGES, "total")}
            misses = 0
            for n in range(warmup + frames):
                t = time.perf_counter()
                frame = decode_image(encoded[n % len(encoded)], "frame")
                decode_ms = (time.perf_counter() - t) * 1000
                analysis = engine.analyze(frame, embed="primary")
                total = (time.perf_counter() - t) * 1000
                if on_frame is not None:
                    on_frame()
                if n < warmup:
                    continue
                if analysis.primary is None:
                    misses += 1
                per_stage["decode"].append(decode_ms)
                for s in STAGES:
                    per_stage[s].append(analysis.timings_ms[s])
                per_stage["total"].append(total)
            stats = {s: _stats(v) for s, v in per_stage.items()}
            result["runs"].append(
                {
                    "provider": engine.provider,
                    "frame": f"{size[0]}x{size[1]}",
                    "stages_ms": stats,
                    "fps": 1000.0 / stats["total"]["median"],
                    "frames_without_face": misses,
                    "load_ms": {**engine.load_ms, "total": load_total},
                }
            )
        if provider == "cpu":  # the challenge's own cost, on the door's 1280×720 frames
            from kiosk.evaluation.bench_liveness import challenge_cost

            frames_hd = [make_door_frame(im, SIZES[-1]) for im in images]
            result["liveness_challenge"] = challenge_cost(
                run_cfg, engine, frames_hd, repeats=max(5, min(frames, 60))
            )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result
