"""The optional PAD model slot (`role = "pad"` in a pack), tested with tiny ONNX graphs
built here with onnx.helper (no PAD weights ship), plus the cue functions on their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from kiosk.config import load_config
from kiosk.evaluation.attacks import GenuinePresenter, load_sources, run_presentation
from kiosk.vision.liveness import LivenessChecker
from kiosk.vision.liveness_cues import (
    moire_peakiness,
    moving_border_length,
    planar_parallax,
)
from kiosk.vision.packs import sha256_file

FACES = Path(__file__).parent / "data" / "liveness"


def tiny_pad_onnx(path: Path, live_logit: float) -> Path:
    """[1,3,32,32] → global average pool → 2 logits (attack, live) → softmax.

    The weights ignore the image (zero), so the live probability is fixed by the biases:
    enough to prove the slot runs the model and uses its answer.
    """
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 2])
    w = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [0.0] * 6)
    b = helper.make_tensor("B", TensorProto.FLOAT, [2], [0.0, live_logit])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 3])
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Reshape", ["pooled", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["prob"], axis=1),
    ]
    graph = helper.make_graph(nodes, "tiny_pad", [x], [y], [w, b, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def pack_with_pad(tmp: Path, models_dir: Path, live_logit: float) -> Path:
    """The bundled pack (model files linked, not copied) plus a tiny PAD model."""
    pack = tmp / "pack"
    pack.mkdir()
    for f in [*models_dir.glob("*.onnx"), *models_dir.glob("*.csv")]:
        (pack / f.name).symlink_to(f)
    for f in models_dir.glob("*.toml"):
        shutil.copy(f, pack / f.name)
    pad = tiny_pad_onnx(pack / "tiny_pad.onnx", live_logit)
    with (pack / "manifest.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[models]]\nrole = "pad"\nkind = "generic"\nfile = "tiny_pad.onnx"\n'
            f'sha256 = "{sha256_file(pad)}"\nlicence = "test-only"\n'
            "input_size = [32, 32]\nlive_index = 1\ncrop_scale = 1.5\n"
        )
    return pack


@pytest.fixture(scope="module")
def source(engine):
    return load_sources(engine, FACES, limit=2)[1]


@pytest.mark.parametrize(("live_logit", "expect_pass"), [(4.0, True), (-4.0, False)])
def test_pack_pad_model_is_run_and_counts(
    tmp_path: Path, models_dir: Path, engine, source, live_logit: float, expect_pass: bool
) -> None:
    pack = pack_with_pad(tmp_path, models_dir, live_logit)
    cfg = load_config(environ={"KIOSK_PATHS_MODELS_DIR": str(pack)})
    checker = LivenessChecker.from_config(cfg)
    assert checker.available and checker.pad_model is not None
    verdict = run_presentation(
        checker, engine, GenuinePresenter(source, np.random.default_rng(1)), seed=1
    )
    expected = 1 / (1 + np.exp(-live_logit))
    assert verdict.cues["pad_model"] == pytest.approx(expected, abs=1e-4)
    assert verdict.passed is expect_pass
    if not expect_pass:
        assert verdict.reason == "cue_veto:pad_model"


def test_tampered_pad_model_makes_liveness_unavailable(tmp_path: Path, models_dir: Path) -> None:
    pack = pack_with_pad(tmp_path, models_dir, 4.0)
    tiny_pad_onnx(pack / "tiny_pad.onnx", -4.0)  # replaced after the manifest was written
    cfg = load_config(environ={"KIOSK_PATHS_MODELS_DIR": str(pack)})
    checker = LivenessChecker.from_config(cfg)
    assert checker.available is False
    assert checker.unavailable_reason == "pad_model_unavailable:model_integrity"
    step = checker.start().feed(None, np.zeros((480, 640, 3), np.uint8), 0.0)
    assert step.verdict is not None and step.verdict.passed is None


def test_default_pack_has_no_pad_model() -> None:
    assert LivenessChecker.from_config(load_config()).pad_model is None


# ------------------------------------------------------------------ cue functions


def test_planar_parallax_separates_a_plane_from_a_head() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-60, 60, (80, 2))
    H = np.array([[0.95, 0.05, 3.0], [-0.02, 1.02, -2.0], [2e-4, -1e-4, 1.0]])
    flat = np.c_[xy, np.ones(80)] @ H.T
    flat = flat[:, :2] / flat[:, 2:]
    depth = 40 * np.exp(-(xy**2).sum(1) / 2000)  # a nose-like bump
    turned = xy.copy()
    turned[:, 0] = xy[:, 0] * np.cos(0.4) + depth * np.sin(0.4)
    ied = 64.0
    assert planar_parallax(xy.astype(np.float32), flat.astype(np.float32), ied) < 0.005
    assert planar_parallax(xy.astype(np.float32), turned.astype(np.float32), ied) > 0.05


def test_moire_peakiness_sees_a_pixel_grid() -> None:
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.normal(128, 40, (128, 128)).astype(np.float32), (0, 0), 2)
    yy, xx = np.mgrid[0:128, 0:128]
    grid = smooth + 20 * np.cos(2 * np.pi * (xx * 0.31 + yy * 0.07))
    assert moire_peakiness(grid.astype(np.uint8)) > moire_peakiness(smooth.astype(np.uint8)) + 1.5


def test_border_that_stays_put_is_the_room() -> None:
    door = np.array([[10, 0, 10, 300]], np.float32)
    sheet = [np.array([[100 + k, 50, 100 + k, 300]], np.float32) for k in range(0, 20, 5)]
    assert moving_border_length([door] * 4, 150.0) == 0.0
    assert moving_border_length(sheet, 150.0) > 1.5
