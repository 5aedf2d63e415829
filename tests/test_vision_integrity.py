"""A missing, truncated or modified model file is refused by name before ORT sees it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.errors import ModelIntegrityError, ModelPackError
from kiosk.vision.packs import load_pack
from kiosk.vision.pipeline import FaceEngine


@pytest.fixture()
def pack_copy(tmp_path: Path, models_dir: Path) -> Path:
    dst = tmp_path / "pack"
    dst.mkdir()
    for item in models_dir.iterdir():
        if item.is_file():
            shutil.copy(item, dst / item.name)
    return dst


def _engine(models: Path) -> FaceEngine:
    return FaceEngine.from_config(load_config(environ={"KIOSK_PATHS_MODELS_DIR": str(models)}))


def test_flipped_byte_is_refused_naming_the_file(pack_copy: Path) -> None:
    model = pack_copy / "sface_2021dec_fp32.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"sface_2021dec_fp32\.onnx.*modified"):
        _engine(pack_copy)


def test_truncated_model_is_refused(pack_copy: Path) -> None:
    model = pack_copy / "yunet_2023mar_fp32.onnx"
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError, match=r"yunet_2023mar_fp32\.onnx"):
        _engine(pack_copy)


def test_missing_model_is_refused(pack_copy: Path) -> None:
    (pack_copy / "yunet_2023mar_fp32.onnx").unlink()
    with pytest.raises(ModelIntegrityError, match=r"yunet_2023mar_fp32\.onnx is missing"):
        _engine(pack_copy)


def test_garbage_with_matching_hash_fails_cleanly_in_onnxruntime(pack_copy: Path) -> None:
    """Someone who also edits the manifest still gets a clear error, not a crash."""
    import hashlib

    model = pack_copy / "yunet_2023mar_fp32.onnx"
    model.write_bytes(b"not an onnx graph" * 100)
    manifest = pack_copy / "manifest.toml"
    text = manifest.read_text()
    old = load_pack(pack_copy).get("detector").sha256
    manifest.write_text(text.replace(old, hashlib.sha256(model.read_bytes()).hexdigest()))
    with pytest.raises(ModelIntegrityError, match="onnxruntime cannot load it"):
        _engine(pack_copy)


def test_manifest_without_recognizer_is_refused(pack_copy: Path) -> None:
    manifest = pack_copy / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(text[: text.index("[[models]]", text.index("[[models]]") + 1)])
    with pytest.raises(ModelPackError, match="no recognizer"):
        load_pack(pack_copy)


def test_bundled_pack_verifies(models_dir: Path) -> None:
    pack = load_pack(models_dir)
    pack.verify()
    assert pack.get("recognizer").colour_order == "RGB"
    assert pack.calibration_path is not None and pack.calibration_path.is_file()
