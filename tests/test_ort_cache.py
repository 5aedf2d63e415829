"""The optimised-graph cache a cold start loads (kiosk/vision/ort_cache.py): weights kept
as external data, every file hashed before ORT reads it, the original re-checked when
its file changed, and the recogniser opened on a thread giving the same embeddings."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main
from kiosk.config import RuntimeConfig, load_config
from kiosk.errors import ModelIntegrityError
from kiosk.vision import ort_cache
from kiosk.vision.embed import EmbedderOpening
from kiosk.vision.ort_cache import OptimizedModelCache
from kiosk.vision.packs import ModelSpec, load_pack
from kiosk.vision.pipeline import FaceEngine
from kiosk.vision.runtime import create_session
from kiosk.vision.stills import detect_still, detect_stills

DETECTOR = "yunet_2023mar_fp32.onnx"
PAIR = [str(Path(__file__).parent / "data" / "pairs" / n) for n in ("img1.jpg", "img2.jpg")]


@pytest.fixture()
def small_pack(tmp_path: Path, models_dir: Path) -> Path:
    """The bundled manifest with a private copy of the detector (the file these tests edit)."""
    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("manifest.toml", "calibration.toml", DETECTOR):
        shutil.copy(models_dir / name, pack / name)
    return pack


@pytest.fixture()
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files hashed against the manifest, in order."""
    calls: list[str] = []
    real = ModelSpec.verify

    def counted(spec: ModelSpec) -> None:
        calls.append(spec.file)
        real(spec)

    monkeypatch.setattr(ModelSpec, "verify", counted)
    return calls


def _open(pack: Path, cache: OptimizedModelCache):
    spec = load_pack(pack).get("detector")
    return create_session(
        spec.path, RuntimeConfig(provider="cpu"), role="detector", cache=cache, source=spec
    )


def _image() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 255, (1, 3, 96, 128)).astype(np.float32)


def test_weights_live_beside_the_graph_and_run_bit_identical(
    small_pack: Path, tmp_path: Path
) -> None:
    cache = OptimizedModelCache(tmp_path / "cache")
    built, cached = _open(small_pack, cache), _open(small_pack, cache)
    assert (built.cached, cached.cached) == (False, True)
    (graph,) = cache.folder.glob("*.onnx")
    (data,) = cache.folder.glob("*.data")
    record = json.loads(graph.with_suffix(".sha256.json").read_text())
    assert (
        record["data"] == data.name
        and record["source_sha256"] == load_pack(small_pack).get("detector").sha256
    )
    assert graph.stat().st_size < 64_000 < 200_000 < data.stat().st_size  # weights outside
    a = built.session.run(None, {built.input_name: _image()})
    b = cached.session.run(None, {cached.input_name: _image()})
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_edited_weights_are_rebuilt_never_loaded(small_pack: Path, tmp_path: Path) -> None:
    cache = OptimizedModelCache(tmp_path / "cache")
    _open(small_pack, cache)
    (graph,) = cache.folder.glob("*.onnx")
    (data,) = cache.folder.glob("*.data")
    weights = bytearray(data.read_bytes())
    weights[len(weights) // 2] ^= 0x01
    data.write_bytes(bytes(weights))
    assert not cache.verified(graph)
    rebuilt = _open(small_pack, cache)
    assert not rebuilt.cached and cache.verified(graph)
    assert [p.name for p in cache.folder.glob("*.data")] != [data.name]  # the edited file went


def test_the_original_is_hashed_again_only_when_its_file_changed(
    small_pack: Path,
    tmp_path: Path,
    verify_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ort_cache, "RACY_NS", 0)  # the copy is seconds old; trust it now
    cache = OptimizedModelCache(tmp_path / "cache")
    _open(small_pack, cache)
    assert verify_calls == [DETECTOR]  # before the cache was built from it
    assert _open(small_pack, cache).cached
    assert verify_calls == [DETECTOR]  # the same file, and the cache passed its own hash
    model = small_pack / DETECTOR
    content = bytearray(model.read_bytes())
    content[len(content) // 2] ^= 0x01
    model.write_bytes(bytes(content))
    with pytest.raises(ModelIntegrityError, match=r"yunet_2023mar_fp32\.onnx.*modified"):
        _open(small_pack, cache)


def test_an_equal_reinstalled_original_is_checked_once(
    small_pack: Path,
    tmp_path: Path,
    verify_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ort_cache, "RACY_NS", 0)
    cache = OptimizedModelCache(tmp_path / "cache")
    _open(small_pack, cache)
    model = small_pack / DETECTOR
    shutil.copy(model, tmp_path / "again.onnx")
    os.replace(tmp_path / "again.onnx", model)  # same bytes, another file
    assert _open(small_pack, cache).cached and verify_calls == [DETECTOR, DETECTOR]
    assert _open(small_pack, cache).cached and verify_calls == [DETECTOR, DETECTOR]


def test_a_just_written_original_is_hashed_at_every_start(
    small_pack: Path, tmp_path: Path, verify_calls: list[str]
) -> None:
    """Its stat could still change within one timestamp tick, so it binds nothing."""
    cache = OptimizedModelCache(tmp_path / "cache")
    _open(small_pack, cache)
    assert _open(small_pack, cache).cached
    assert verify_calls == [DETECTOR, DETECTOR]
    (graph,) = cache.folder.glob("*.onnx")
    assert "source" not in json.loads(graph.with_suffix(".sha256.json").read_text())


def test_the_recogniser_opened_on_a_thread_embeds_bit_identically(engine: FaceEngine) -> None:
    background = FaceEngine.from_config(engine.cfg, whole_pack=False, one_shot=True)
    assert isinstance(background.embedder, EmbedderOpening)
    ours = detect_stills(background, PAIR, "largest")
    theirs = [detect_still(engine, p, "largest") for p in PAIR]  # opened at once, one by one
    for still, alone in zip(ours, theirs, strict=True):
        assert np.array_equal(still.embedding, alone.embedding)
    assert round(float(np.dot(ours[0].embedding, ours[1].embedding)), 4) == 0.7335


def test_compare_with_a_tampered_recogniser_is_one_error_line(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(models_dir, pack, ignore=shutil.ignore_patterns("source"))
    model = pack / "sface_2021dec_fp32.onnx"
    content = bytearray(model.read_bytes())
    content[len(content) // 3] ^= 0x01
    model.write_bytes(bytes(content))
    monkeypatch.setenv("KIOSK_PATHS_MODELS_DIR", str(pack))
    assert main(["compare", *PAIR]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [model_integrity]: model file sface_2021dec_fp32.onnx")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert load_config().paths.models_dir == str(pack)
