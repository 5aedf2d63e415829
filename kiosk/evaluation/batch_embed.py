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

With an `EmbeddingCache` (`kiosk eval --cache`), a worker hashes the bytes it read and
takes a stored face for a photo seen before in the same context instead of decoding it;
new faces are stored by the consuming thread in batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.errors import KioskError
from kiosk.evaluation.embedding_cache import ChosenFace, EmbeddingCache
from kiosk.vision.image_header import read_file
from kiosk.vision.imageio import decode_image
from kiosk.vision.pipeline import FaceEngine, FaceObservation, FrameAnalysis
from kiosk.vision.stills import analyse_still

log = logging.getLogger(__name__)

FaceChoice = Callable[[FrameAnalysis], FaceObservation | None]
FaceReport = Callable[[str, ChosenFace], None]
CACHE_WRITE_EVERY = 256  # faces per cache transaction


def usable_cores() -> int:
    """Cores this process may run on (a container's or taskset's share, not the host's):
    one worker per core, each session on one thread, so nothing is oversubscribed."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def primary_face(analysis: FrameAnalysis) -> FaceObservation | None:
    """The largest face (what `FaceEngine.embed_photo` takes)."""
    return analysis.primary


@dataclass
class _Photo:
    """One photo after its worker: a chosen face (embedded, or from the cache), a face
    whose embedding waits for a batch, or neither (no face found)."""

    digest: str  # SHA-256 of the file's bytes; "" without a cache
    chosen: ChosenFace | None = None
    face: FaceObservation | None = None
    where: tuple[int, int, int] = (0, 0, 0)  # faces found, chosen index, long side
    cached: bool = False


def _chosen(face: FaceObservation, where: tuple[int, int, int]) -> ChosenFace:
    if face.embedding is None:  # a slip in this module, never the photo's fault
        raise ValueError("a face was reported before it was embedded")
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return ChosenFace(face.embedding, (x1, y1, x2, y2), *where)


def _read_photo(
    engine: FaceEngine,
    path: Path,
    long_side: int | None,
    choose: FaceChoice,
    embed: bool,
    cache: EmbeddingCache | None,
) -> _Photo:
    data = read_file(path)
    digest = hashlib.sha256(data).hexdigest() if cache is not None else ""
    if cache is not None and (hit := cache.get(digest)) is not None:
        return _Photo(digest, chosen=hit, cached=True)
    image = decode_image(data, path.name)  # the same bytes, decoded once
    if long_side is None:  # a still's own size, never upscaled (kiosk/vision/stills.py)
        analysis, used = analyse_still(engine, image)
    else:
        analysis, used = engine.analyze(image, embed="none", long_side=long_side), long_side
    face = choose(analysis)
    if face is None:
        return _Photo(digest)
    index = next(i for i, f in enumerate(analysis.faces) if f is face)
    where = (len(analysis.faces), index, used)
    if not embed:
        return _Photo(digest, face=face, where=where)
    engine.embed_observations([face])
    return _Photo(digest, chosen=_chosen(face, where))


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
    cache: EmbeddingCache | None = None,
    on_failure: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_face: FaceReport | None = None,
) -> dict[str, np.ndarray | None]:
    """The chosen face's embedding of each image (None: failure to acquire, reported to
    `on_failure(name, reason)`); every image is read, decoded and analysed at most once
    (not at all when `cache` has it). `long_side=None` detects each still at its own
    size (`stills.analyse_still`); `on_face(name, chosen)` hears which face was chosen,
    and where."""
    names = list(dict.fromkeys(names))
    workers = workers or usable_cores()
    result: dict[str, np.ndarray | None] = {}
    waiting: list[tuple[str, _Photo]] = []
    fresh: list[tuple[str, ChosenFace]] = []

    def finish(name: str, photo: _Photo, chosen: ChosenFace) -> None:
        result[name] = chosen.embedding
        if on_face:
            on_face(name, chosen)
        if cache is not None and not photo.cached:
            fresh.append((photo.digest, chosen))
            if len(fresh) >= CACHE_WRITE_EVERY:
                cache.put_many(fresh)
                fresh.clear()

    def flush() -> None:
        faces = [(name, photo, photo.face) for name, photo in waiting if photo.face is not None]
        engine.embed_observations([face for _, _, face in faces])
        for name, photo, face in faces:
            finish(name, photo, _chosen(face, photo.where))
        waiting.clear()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-decode") as pool:

        def submit(name: str) -> Future:
            return pool.submit(
                _read_photo, engine, folder / name, long_side, choose, batch <= 1, cache
            )

        for done, (name, future) in enumerate(_in_order(names, submit, workers * 4), 1):
            try:
                photo = future.result()
            except KioskError as exc:  # ImageDecodeError is one
                result[name] = None
                if on_failure:
                    on_failure(name, str(exc))
            else:
                if photo.chosen is not None:
                    finish(name, photo, photo.chosen)
                elif photo.face is not None:
                    waiting.append((name, photo))
                    if len(waiting) >= batch:
                        flush()
                else:
                    result[name] = None
                    if on_failure:
                        on_failure(name, f"{name}: no face found")
            if on_progress:
                on_progress(done)
        flush()
    if cache is not None:
        cache.put_many(fresh)
    return {name: result[name] for name in names}


__all__ = ["ChosenFace", "FaceChoice", "FaceReport", "embed_images", "primary_face", "usable_cores"]
