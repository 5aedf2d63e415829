"""The int8bq → float32 conversion: DequantizeLinear semantics, fidelity to OpenCV's own
run of the original file, and byte-for-byte reproducibility of the vendored files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from kiosk.evaluation.convert import convert, dequantize
from kiosk.vision.packs import sha256_file

MODELS = Path(__file__).resolve().parent.parent / "models"


def _manifest() -> dict:
    return tomllib.loads((MODELS / "manifest.toml").read_text())


def test_dequantize_per_tensor_per_axis_and_blocked() -> None:
    q = np.array([[0, 10, 20, 30, 40]], dtype=np.int8)
    assert np.allclose(dequantize(q, np.array(0.5), np.array(10)), [[-5, 0, 5, 10, 15]])
    q2 = np.array([[1, 2], [3, 4]], dtype=np.int8)
    assert np.allclose(
        dequantize(q2, np.array([1.0, 10.0]), np.array([0, 1]), axis=0), [[1, 2], [20, 30]]
    )
    # blocks of 2 along axis 1; the last block is short (5 = 2 + 2 + 1)
    scale = np.array([[1.0, 2.0, 3.0]])
    zp = np.array([[0, 1, 2]], dtype=np.int8)
    assert np.allclose(dequantize(q, scale, zp, axis=1, block_size=2), [[0, 10, 38, 58, 114]])


def test_original_int8bq_files_do_not_run_in_onnxruntime() -> None:
    """Why the conversion exists: if this starts passing, ORT learned the format."""
    src = MODELS / _manifest()["models"][1]["source_file"]
    options = ort.SessionOptions()
    options.log_severity_level = 4
    with pytest.raises(Exception):  # noqa: B017 - ORT raises its own untyped failures
        session = ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
        session.run(None, {"data": np.zeros((1, 3, 112, 112), np.float32)})


@pytest.mark.parametrize(
    "index,kwargs", [(0, {"symbolic_input": True}), (1, {"symbolic_batch": True})]
)
def test_conversion_reproduces_vendored_files(tmp_path: Path, index: int, kwargs: dict) -> None:
    entry = _manifest()["models"][index]
    src = MODELS / entry["source_file"]
    assert sha256_file(src) == entry["source_sha256"]
    out = tmp_path / entry["file"]
    convert(src, out, **kwargs)
    assert sha256_file(out) == entry["sha256"]


def test_converted_sface_agrees_with_opencv_on_original(engine, data_dir: Path) -> None:
    src = MODELS / _manifest()["models"][1]["source_file"]
    net = cv2.dnn.readNet(str(src))
    for name in ("img1.jpg", "img12.jpg"):
        face = engine.embed_photo(str(data_dir / name))
        blob = cv2.dnn.blobFromImage(face.aligned, 1.0, (112, 112), (0, 0, 0), swapRB=True)
        net.setInput(blob, "data")
        reference = net.forward().reshape(-1)
        ours = engine.embedder.session.run(None, {"data": blob})[0].reshape(-1)
        cos = float(ours @ reference / np.linalg.norm(ours) / np.linalg.norm(reference))
        assert cos >= 0.999, name
