"""Frame → faces: detect, align, assess quality, embed, with per-stage timings.

`FaceEngine` is built once from the config (model pack verified against its manifest
before any session opens) and is then cheap per frame. It holds no state between
frames, so the camera worker and tests can call it freely.

Embedding is the expensive stage (about three quarters of a frame), and the door needs
it for a few frames per attempt only: `analyze(embed="none")` detects, aligns and assesses
every frame, and `embed_observations` embeds the frames a decision uses, later, in one
batch (the check-in flow picks them; see kiosk/checkin/flow.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from kiosk.config import KioskConfig, load_config
from kiosk.errors import ModelPackError, NoFaceError
from kiosk.vision.align import align_face
from kiosk.vision.detect import Detections, FaceDetector, YuNetDetector
from kiosk.vision.embed import EmbedderOpening, FaceEmbedder, OnnxEmbedder
from kiosk.vision.imageio import read_image
from kiosk.vision.ort_cache import OptimizedModelCache
from kiosk.vision.packs import ModelPack, resolve_pack
from kiosk.vision.packs.manifest import MANIFEST
from kiosk.vision.quality import QualityReport, assess_face
from kiosk.vision.runtime import apply_process_budget, create_session

log = logging.getLogger(__name__)

STAGES = ("detect", "align", "quality", "embed")


@dataclass
class FaceObservation:
    """One face in one frame, carried through the pipeline and into the check-in flow."""

    box: np.ndarray  # (4,) x1, y1, x2, y2 in frame pixels
    landmarks: np.ndarray  # (5, 2)
    det_score: float
    quality: QualityReport
    aligned: np.ndarray  # 112×112 BGR crop; lives in memory only, never stored
    embedding: np.ndarray | None = None  # (D,) L2-normalised
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


@dataclass
class FrameAnalysis:
    faces: list[FaceObservation]  # largest first
    frame_shape: tuple[int, int]
    timings_ms: dict[str, float]

    @property
    def primary(self) -> FaceObservation | None:
        return self.faces[0] if self.faces else None


def optimized_model_cache(cfg: KioskConfig, pack: ModelPack) -> OptimizedModelCache | None:
    """The pack's optimised-graph cache in the data dir, or None when it is turned off."""
    if not cfg.runtime.cache_optimized_models:
        return None
    return OptimizedModelCache.for_manifest(cfg.data_dir, pack.root / MANIFEST)


class FaceEngine:
    def __init__(
        self,
        pack: ModelPack,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        cfg: KioskConfig,
        load_ms: dict[str, float],
    ) -> None:
        self.pack = pack
        self.detector = detector
        self.embedder = embedder
        self.cfg = cfg
        self.load_ms = load_ms

    @property
    def pack_id(self) -> str:
        return self.pack.pack_id

    @property
    def provider(self) -> str:
        return self.detector.provider

    @classmethod
    def from_config(
        cls, cfg: KioskConfig | None = None, *, whole_pack: bool = True, one_shot: bool = False
    ) -> FaceEngine:
        """The engine of the configured pack. Every model file is checked against the
        manifest before it runs; with `whole_pack` (the door) the models this engine does
        not load are checked now too, so a tampered landmark model stops the start rather
        than the first challenge (`kiosk compare` runs two models and checks those two).

        `one_shot` (`kiosk compare`: two photos, then exit): the recogniser opens on a
        thread while the caller detects (`EmbedderOpening`), and the sessions plan no
        memory for repeated runs (`runtime.session_options`)."""
        cfg = cfg or load_config()
        pack = resolve_pack(cfg)
        det_spec, rec_spec = pack.get("detector"), pack.get("recognizer")
        t0 = time.perf_counter()
        if whole_pack:
            for spec in pack.models:
                if spec not in (det_spec, rec_spec):
                    spec.verify()
        load_ms = {"verify": (time.perf_counter() - t0) * 1000}
        cache = optimized_model_cache(cfg, pack)
        apply_process_budget(cfg.runtime)  # once, before a second thread opens a session

        def open_recognizer() -> OnnxEmbedder:
            loaded = create_session(
                rec_spec.path,
                cfg.runtime,
                role="recognizer",
                cache=cache,
                source=rec_spec,
                few_runs=one_shot,
            )
            load_ms["recognizer"] = loaded.load_ms
            return OnnxEmbedder(rec_spec, loaded)

        embedder: FaceEmbedder
        if one_shot:
            embedder = EmbedderOpening(open_recognizer)
        det_loaded = create_session(
            det_spec.path,
            cfg.runtime,
            role="detector",
            cache=cache,
            source=det_spec,
            few_runs=one_shot,
        )
        load_ms["detector"] = det_loaded.load_ms
        if not one_shot:
            embedder = open_recognizer()
        detector: FaceDetector
        if det_spec.kind == "yunet":
            detector = YuNetDetector(
                det_spec,
                det_loaded,
                long_side=cfg.vision.detector_long_side,
                score_threshold=cfg.vision.det_score_threshold,
                nms_threshold=cfg.vision.nms_iou_threshold,
                max_faces=cfg.vision.max_faces,
            )
        elif det_spec.kind == "scrfd":
            from kiosk.vision.detect_scrfd import ScrfdDetector

            detector = ScrfdDetector(det_spec, det_loaded, cfg.vision)
        else:  # load_pack already refuses unknown kinds; this guards future edits
            raise ModelPackError(f"no detector for kind {det_spec.kind!r}")
        log.info(
            "face engine ready: pack %s on %s (%s)", pack.pack_id, det_loaded.provider, load_ms
        )
        return cls(pack, detector, embedder, cfg, load_ms)

    def analyze(
        self, frame_bgr: np.ndarray, *, embed: str = "primary", long_side: int | None = None
    ) -> FrameAnalysis:
        """Detect every face; align, assess and (per `embed`: primary|all|none) embed them."""
        timings = dict.fromkeys(STAGES, 0.0)
        t0 = time.perf_counter()
        dets: Detections = self.detector.detect(frame_bgr, long_side=long_side)
        timings["detect"] = (time.perf_counter() - t0) * 1000
        areas = dets.areas
        order = np.argsort(-areas, kind="stable")
        in_view = (
            int((areas >= areas.max() * self.cfg.quality.second_face_area_ratio).sum())
            if len(dets)
            else 0
        )
        faces: list[FaceObservation] = []
        for rank, i in enumerate(order):
            t = time.perf_counter()
            aligned = align_face(frame_bgr, dets.landmarks[i])
            t_align = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            quality = assess_face(
                frame_bgr,
                dets.xyxy[i],
                dets.landmarks[i],
                float(dets.scores[i]),
                aligned,
                faces_in_view=in_view,
                cfg=self.cfg.quality,
            )
            t_quality = (time.perf_counter() - t) * 1000
            embedding, t_embed = None, 0.0
            if embed == "all" or (embed == "primary" and rank == 0):
                t = time.perf_counter()
                embedding = self.embedder.embed(aligned)
                t_embed = (time.perf_counter() - t) * 1000
            faces.append(
                FaceObservation(
                    dets.xyxy[i],
                    dets.landmarks[i],
                    float(dets.scores[i]),
                    quality,
                    aligned,
                    embedding,
                    {"align": t_align, "quality": t_quality, "embed": t_embed},
                )
            )
            timings["align"] += t_align
            timings["quality"] += t_quality
            timings["embed"] += t_embed
        return FrameAnalysis(faces, frame_bgr.shape[:2], timings)

    def embed_observations(self, observations: list[FaceObservation]) -> int:
        """Embed, in one batch, those of `observations` that have no embedding yet; returns
        how many were embedded (the flow counts them per attempt)."""
        todo = [o for o in observations if o.embedding is None]
        if not todo:
            return 0
        t = time.perf_counter()
        vectors = self.embedder.embed_batch([o.aligned for o in todo])
        per_face = (time.perf_counter() - t) * 1000 / len(todo)
        for obs, vector in zip(todo, vectors, strict=True):
            obs.embedding = vector
            obs.timings_ms["embed"] = per_face
        return len(todo)

    def embed_photo(self, path: str, *, long_side: int = 640) -> FaceObservation:
        """The main face of a still photo (enrolment, `kiosk compare`); NoFaceError if none."""
        image = read_image(path)
        analysis = self.analyze(image, embed="primary", long_side=long_side)
        if analysis.primary is None:
            raise NoFaceError(f"{path}: no face found")
        return analysis.primary
