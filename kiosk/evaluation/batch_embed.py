"""`kiosk eval`'s embedding loop: every image decoded and analysed once, in a thread pool,
and the chosen faces embedded in batches.

Why threads help: JPEG decoding (`cv2.imdecode`) and onnxruntime's `run` release the
GIL, so one image per core goes through decode → detect → align → embed at once, each
session on one intra-op thread (parallel images beat a parallel kernel for a batch job).
With `batch` > 1 the workers stop after alignment and the chosen faces go through the
recogniser in batches: that pays on a GPU, but not on the 2-core AVX-512 EPYC this was
measured on (SFace with mirror averaging, 1 thread: 37-39 ms CPU a face unbatched,
42-46 ms in batches of 4, 48-58 ms in batches of 8-32: the batch's activations leave
the L2 cache), hence the default of 1 on CPU. Either way each face's embedding is
bit-identical to embedding it alone (`OnnxEmbedder.embed_batch`; tests check it), so
the per-pair scores do not change by a digit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kiosk.errors import KioskError
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FaceEngine, FaceObservation, FrameAnalysis
from kiosk.vision.stills import analyse_still

log = logging.getLogger(__name__)

FaceChoice = Callable[[FrameAnalysis], FaceObservation | None]
FaceReport = Callable[[str, FaceObservation, FrameAnalysis, int], None]


def primary_face(analysis: FrameAnalysis) -> FaceObservation | None:
    """The largest face (what `FaceEngine.embed_photo` takes)."""
    return analysis.primary


def _analyse(
    engine: FaceEngine, path: Path, long_side: int | None, choose: FaceChoice, embed: bool
) -> tuple[FaceObservation | None, FrameAnalysis, int]:
    image = read_image(path)
    if long_side is None:  # a still's own size, never upscaled (kiosk/vision/stills.py)
        analysis, used = analyse_still(engine, image)
    else:
        analysis, used = engine.analyze(image, embed="none", long_side=long_side), long_side
    face = choose(analysis)
    if face is not None and embed:
        engine.embed_observations([face])
    return face, analysis, used


def _in_order(
    names: list[str], submit: Callable[[str], Future], depth: int
) -> Iterator[tuple[str, Future]]:
    """Futures in the names' order, at most `depth` in flight (bounded memory)."""
    pending: list[tuple[str, Future]] = []
    for name in names:
        pending.append((name, submit(name)))
        if len(pending) >= depth:
            yield pending.pop(0)
    yield from pending


def embed_images(
    engine: FaceEngine,
    folder: Path,
    names: Iterable[str],
    *,
    long_side: int | None = 640,
    choose: FaceChoice = primary_face,
    workers: int | None = None,
    batch: int = 1,
    on_failure: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_face: FaceReport | None = None,
) -> dict[str, np.ndarray | None]:
    """The chosen face's embedding of each image (None: failure to acquire, reported to
    `on_failure(name, reason)`); every image is decoded and analysed exactly once.
    `long_side=None` detects each still at its own size (`stills.analyse_still`);
    `on_face(name, face, analysis, long_side)` hears which face was chosen, and where."""
    names = list(dict.fromkeys(names))
    workers = workers or min(4, os.cpu_count() or 1)
    result: dict[str, np.ndarray | None] = {}
    waiting: list[tuple[str, FaceObservation]] = []

    def flush() -> None:
        if waiting:
            engine.embed_observations([obs for _, obs in waiting])
            for name, obs in waiting:
                result[name] = obs.embedding
            waiting.clear()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-decode") as pool:

        def submit(name: str) -> Future:
            return pool.submit(_analyse, engine, folder / name, long_side, choose, batch <= 1)

        for done, (name, future) in enumerate(_in_order(names, submit, workers * 4), 1):
            try:
                obs, analysis, used = future.result()
            except KioskError as exc:  # ImageDecodeError is one
                obs = None
                if on_failure:
                    on_failure(name, str(exc))
            else:
                if obs is None and on_failure:
                    on_failure(name, f"{name}: no face found")
                if obs is not None and on_face:
                    on_face(name, obs, analysis, used)
            if obs is None:
                result[name] = None
            else:
                waiting.append((name, obs))
                if len(waiting) >= batch:
                    flush()
            if on_progress:
                on_progress(done)
        flush()
    return {name: result[name] for name in names}


__all__ = ["FaceChoice", "embed_images", "primary_face"]
