"""Face embedding from a 112×112 aligned crop: pre-processing exactly as the pack's
manifest declares, optional mirror averaging, L2 normalisation; cosine comparison."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from kiosk.vision.packs import ModelSpec
from kiosk.vision.runtime import LoadedSession


class FaceEmbedder(Protocol):
    provider: str
    dim: int

    def embed(self, aligned_bgr: np.ndarray) -> np.ndarray: ...

    def embed_batch(self, aligned_bgr: list[np.ndarray]) -> np.ndarray: ...


def l2_normalise(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else v.astype(np.float32)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings (inputs need not be normalised)."""
    return float(np.dot(l2_normalise(a), l2_normalise(b)))


class OnnxEmbedder:
    """Runs a recogniser (SFace or ArcFace) with the manifest's colour order, mean and std.

    With `flip_average` the face and its mirror image go through the network in one
    batch and their embeddings are averaged: it lowers EER for SFace at ~1.9× the cost.
    """

    def __init__(
        self, spec: ModelSpec, loaded: LoadedSession, *, flip_average: bool | None = None
    ) -> None:
        self.spec = spec
        self.session = loaded.session
        self.input_name = loaded.input_name
        self.provider = loaded.provider
        self.flip_average = spec.flip_average if flip_average is None else flip_average
        self.size = spec.input_size if spec.input_size != (0, 0) else (112, 112)
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        self._inv_std = (1.0 / np.asarray(spec.std, np.float32)).reshape(1, 3, 1, 1)
        shape = self.session.get_inputs()[0].shape
        self._batchable = not isinstance(shape[0], int) or shape[0] != 1
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def _blob(self, faces_bgr: list[np.ndarray]) -> np.ndarray:
        batch = np.stack(faces_bgr).astype(np.float32)
        if self.spec.colour_order == "RGB":
            batch = batch[..., ::-1]
        blob = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray((blob - self._mean) * self._inv_std)

    def embed(self, aligned_bgr: np.ndarray) -> np.ndarray:
        return self.embed_batch([aligned_bgr])[0]

    def embed_batch(self, aligned_bgr: list[np.ndarray], max_batch: int = 32) -> np.ndarray:
        """(n, dim) embeddings of n aligned faces, run through the network in batches.

        Each face's result is bit-identical to embedding it alone (the recogniser's
        kernels compute every image of a batch independently; tests/test_vision_batch.py
        checks it), so batching changes throughput, never a score.
        """
        if not aligned_bgr:
            return np.zeros((0, self.dim), np.float32)
        for face in aligned_bgr:
            if face.shape[:2] != tuple(self.size):
                raise ValueError(f"aligned face must be {self.size}, got {face.shape[:2]}")
        views = 2 if self.flip_average else 1
        crops: list[np.ndarray] = []
        for face in aligned_bgr:
            crops.extend([face, face[:, ::-1]] if self.flip_average else [face])
        step = max_batch * views if self._batchable else 1
        outs = [
            self.session.run(None, {self.input_name: self._blob(crops[i : i + step])})[0]
            for i in range(0, len(crops), step)
        ]
        vectors = np.asarray(np.concatenate(outs), np.float32).reshape(len(aligned_bgr), views, -1)
        result = np.empty((len(aligned_bgr), vectors.shape[-1]), np.float32)
        for i, own in enumerate(vectors):
            result[i] = l2_normalise(sum(l2_normalise(v) for v in own))
        return result


class EmbedderOpening:
    """A recogniser opened on its own thread while the caller does other work (`kiosk
    compare` decodes and detects both photos meanwhile). The first use waits for it and
    raises what opening raised (a ModelIntegrityError stays one). On two cores this hides
    part of the recogniser's start: hashing its weights, and ORT's session set-up while
    the detector runs (both release the GIL)."""

    def __init__(self, open_embedder: Callable[[], FaceEmbedder]) -> None:
        self._embedder: FaceEmbedder | None = None
        self._error: BaseException | None = None
        # Not a daemon: the interpreter waits for it rather than exiting under ORT's feet.
        self._thread = threading.Thread(
            target=self._open, args=(open_embedder,), name="open-recognizer"
        )
        self._thread.start()

    def _open(self, open_embedder: Callable[[], FaceEmbedder]) -> None:
        try:
            self._embedder = open_embedder()
        except BaseException as exc:  # handed to the thread that uses the embedder
            self._error = exc

    def ready(self) -> FaceEmbedder:
        """The recogniser, once open; raises what opening it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._embedder is not None
        return self._embedder

    @property
    def provider(self) -> str:
        return self.ready().provider

    @property
    def dim(self) -> int:
        return self.ready().dim

    def embed(self, aligned_bgr: np.ndarray) -> np.ndarray:
        return self.ready().embed(aligned_bgr)

    def embed_batch(self, aligned_bgr: list[np.ndarray]) -> np.ndarray:
        return self.ready().embed_batch(aligned_bgr)
