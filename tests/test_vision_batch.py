"""Throughput changes that must not change a result: batched embeddings, the threaded
`kiosk eval` loop, the optimised-graph cache, and the process's ORT thread settings."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import RuntimeConfig, load_config
from kiosk.evaluation import evaluation as ev
from kiosk.evaluation.batch_embed import embed_images
from kiosk.vision.ort_cache import OptimizedModelCache
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.runtime import create_session, session_options

CHECKIN = Path(__file__).resolve().parent / "data" / "checkin"
NAMES = ["img26.jpg", "img42.jpg", "img43.jpg", "img47.jpg", "img48.jpg", "img53.jpg"]


def test_a_batch_embeds_each_face_exactly_as_alone(engine: FaceEngine) -> None:
    faces = [engine.embed_photo(str(CHECKIN / n)) for n in NAMES]
    batched = engine.embedder.embed_batch([f.aligned for f in faces])
    assert batched.shape == (len(NAMES), engine.embedder.dim)
    for face, row in zip(faces, batched, strict=True):
        assert np.array_equal(face.embedding, row)  # bit for bit, not approximately
    assert engine.embedder.embed_batch([]).shape == (0, engine.embedder.dim)


@pytest.mark.parametrize(("workers", "batch"), [(1, 1), (3, 1), (2, 4)])
def test_eval_loop_scores_every_pair_as_the_unbatched_path(
    engine: FaceEngine, tmp_path: Path, workers: int, batch: int
) -> None:
    folder = tmp_path / "images"
    shutil.copytree(CHECKIN, folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    pairs = [
        ev.Pair("img26.jpg", "img42.jpg", True),
        ev.Pair("img42.jpg", "img43.jpg", True),
        ev.Pair("img26.jpg", "img47.jpg", False),
        ev.Pair("img48.jpg", "img53.jpg", False),
        ev.Pair("img43.jpg", "broken.jpg", True),
    ]
    names = sorted({p.a for p in pairs} | {p.b for p in pairs})
    failures: list[str] = []
    embeddings = embed_images(
        engine,
        folder,
        names,
        workers=workers,
        batch=batch,
        on_failure=lambda name, reason: failures.append(name),
    )
    threaded = ev.score_pairs(pairs, embeddings.__getitem__)

    def one_by_one(name: str) -> np.ndarray | None:
        if name == "broken.jpg":
            return None
        return engine.embed_photo(str(folder / name), long_side=640).embedding

    reference = ev.score_pairs(pairs, one_by_one)
    assert failures == ["broken.jpg"]
    assert [s.score for s in threaded.scores] == [s.score for s in reference.scores]
    assert threaded.scores[-1].score is None and threaded.fta_images == ["broken.jpg"]


def test_sessions_do_not_spin_and_take_their_role_threads() -> None:
    cfg = RuntimeConfig(intra_op_threads=2, detector_intra_op_threads=1)
    options = session_options(cfg, "recognizer")
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
    assert session_options(cfg, "detector").intra_op_num_threads == 1
    assert session_options(cfg, "landmark").intra_op_num_threads == 1
    spinning = session_options(replace(cfg, allow_spinning=True), "detector")
    assert spinning.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_optimised_graph_is_cached_verified_and_rebuilt(engine: FaceEngine, tmp_path: Path) -> None:
    spec = engine.pack.get("detector")
    cache = OptimizedModelCache.for_manifest(tmp_path, engine.pack.root / "manifest.toml")
    cfg = RuntimeConfig(provider="cpu")
    first = create_session(spec.path, cfg, role="detector", cache=cache)
    graphs = sorted(cache.folder.glob("*.onnx"))
    assert not first.cached and len(graphs) == 1
    second = create_session(spec.path, cfg, role="detector", cache=cache)
    assert second.cached
    image = np.random.default_rng(0).integers(0, 255, (1, 3, 96, 128)).astype(np.float32)
    a = first.session.run(None, {first.input_name: image})
    b = second.session.run(None, {second.input_name: image})
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # A cached graph that no longer matches its recorded hash is never loaded: rebuilt.
    graphs[0].write_bytes(graphs[0].read_bytes()[:-10])
    third = create_session(spec.path, cfg, role="detector", cache=cache)
    assert not third.cached
    assert cache.verified(graphs[0])
    # Another manifest (another pack version) is another folder.
    other = tmp_path / "manifest.toml"
    other.write_text("# edited\n")
    assert OptimizedModelCache.for_manifest(tmp_path, other).folder != cache.folder


def test_engine_from_config_fills_the_cache_in_the_data_dir(tmp_path: Path) -> None:
    cfg = load_config(
        environ={"KIOSK_RUNTIME_PROVIDER": "cpu", "KIOSK_PATHS_DATA_DIR": str(tmp_path)}
    )
    FaceEngine.from_config(cfg)
    assert len(list((tmp_path / "ort_cache").glob("*/*.onnx"))) == 2
    cfg.runtime.cache_optimized_models = False
    other = tmp_path / "off"
    cfg.paths.data_dir = str(other)
    FaceEngine.from_config(cfg)
    assert not (other / "ort_cache").exists()


def test_door_attempts_count_embeddings_and_the_reference_runs_on_their_frames(
    engine: FaceEngine,
) -> None:
    """The demo door's two scripted attempts (seeded, so exact): the genuine applicant is
    accepted and the impostor refused, each embedding 3 fused frames + 11 identity
    frames (the challenge's first frame and the first of each new prompt, each with the
    frame after it for the frame-to-frame identity check) out of ~75 frames."""
    from kiosk.demo.attempt_bench import competing_load, reference_per_frame, run_attempts
    from kiosk.evaluation.cv2_reference import Cv2Reference

    attempts, frames = run_attempts(engine.cfg, engine, fps=15.0)
    assert [(a.decision, a.reason) for a in attempts] == [
        ("accepted", "matched"),
        ("rejected", "no_match"),
    ]
    assert [a.embeddings for a in attempts] == [14, 14]
    assert all(a.liveness_frames > 20 and a.cpu_ms > a.cpu_ms_capture > 0 for a in attempts)
    assert len(frames) == sum(a.frames for a in attempts) - len(attempts)  # the claim frames
    reference = Cv2Reference.from_pack(engine.pack, engine.cfg.vision.detector_long_side)
    assert reference.files["detector"].startswith("source/")  # the int8bq original
    features = [reference.process(f) for f in frames[::5]]
    with_face = [f for f in features if f is not None]
    assert with_face and all(f.shape == (1, 128) for f in with_face)
    assert len(with_face) < len(features)  # the QR card still in view after the claim
    cost = reference_per_frame(reference, frames[:3])
    assert cost["cpu_ms"] > 0 and cost["wall_ms"] > 0
    with competing_load(1):
        pass  # starts and stops its process without hanging


def test_an_unwritable_cache_only_costs_start_up_time(engine: FaceEngine, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    cache = OptimizedModelCache(blocker / "ort_cache")
    loaded = create_session(
        engine.pack.get("detector").path,
        RuntimeConfig(provider="cpu"),
        role="detector",
        cache=cache,
    )
    assert not loaded.cached and loaded.session.get_inputs()[0].name == loaded.input_name
