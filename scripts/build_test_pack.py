"""Build a tiny but real InsightFace-style model pack from the default (MIT/Apache) weights.

No InsightFace weights can be downloaded or redistributed here, yet the SCRFD/ArcFace
path must be tested end to end with real faces. So this script rewrites the default
pack's graphs to speak InsightFace's *contracts* exactly:

* ``det_yunet_as_scrfd.onnx``: YuNet with ONNX ops added before and after it so that
  insightface's ``SCRFD`` (9 outputs: 3 strides × score/bbox/kps, 2 anchors per location)
  decodes it. At the input, SCRFD feeds ``(RGB - 127.5) / 128``; the graph multiplies by
  128, adds 127.5 and swaps RGB back to BGR, so YuNet still sees raw 0-255 BGR. At the
  output, YuNet's ``(dx, dy, log w, log h)`` become SCRFD's left/top/right/bottom
  distances in stride units from the anchor centre, ``sqrt(cls·obj)`` becomes the score,
  and landmark offsets pass through (both decoders add them to ``grid·stride``).
* ``rec_sface_as_arcface.onnx``: SFace behind ``x·127.5 + 127.5`` so that it takes
  ArcFace pre-processing ``(RGB - 127.5) / 127.5`` and still sees raw 0-255 RGB.
  SFace's own first nodes are named ``_minusscalar0``/``_mulscalar0``, which
  insightface's ``ArcFaceONNX`` takes for an MXNet graph with built-in normalisation
  (mean 0, std 1); they are renamed so the wrapped graph routes like a modern ArcFace.

Usage: ``python scripts/build_test_pack.py OUT_DIR [--models models] [--zip]``
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger("build_test_pack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DETECTOR_FILE = "det_yunet_as_scrfd.onnx"
RECOGNIZER_FILE = "rec_sface_as_arcface.onnx"
MXNET_RECOGNIZER_FILE = "rec_sface_mxnet_style.onnx"
STRIDES = (8, 16, 32)
# SCRFD infers 2 anchors per location from its 9 outputs; YuNet has one prediction per
# location. The second anchor gets score 0 (same box): duplicating the score would only
# give NMS an identical twin of every candidate to remove.
NUM_ANCHORS = 2
SCRFD_MEAN, SCRFD_STD = 127.5, 128.0
ARCFACE_MEAN, ARCFACE_STD = 127.5, 127.5


def _const(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def _finish(model: onnx.ModelProto, target: Path) -> Path:
    del model.graph.value_info[:]
    model.producer_name = "kiosk scripts/build_test_pack.py"
    onnx.checker.check_model(model, full_check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    log.info("wrote %s", target)
    return target


def yunet_as_scrfd(yunet_path: Path, target: Path) -> Path:
    """Wrap YuNet so that insightface's SCRFD decodes it (see module docstring)."""
    model = onnx.load(str(yunet_path))
    graph = model.graph
    old_input = graph.input[0]
    yunet_in = old_input.name
    new_in = "input.1"  # the name InsightFace's own SCRFD exports use
    pre = [
        helper.make_node(
            "Mul", [new_in, _const(graph, "scrfd_in_std", np.float32(SCRFD_STD))], ["in_x128"]
        ),
        helper.make_node(
            "Add", ["in_x128", _const(graph, "scrfd_in_mean", np.float32(SCRFD_MEAN))], ["in_raw"]
        ),
        # Channel gather RGB -> BGR: SCRFD's blobFromImage uses swapRB=True.
        helper.make_node(
            "Gather",
            ["in_raw", _const(graph, "rgb_to_bgr", np.array([2, 1, 0], np.int64))],
            [yunet_in],
            axis=1,
        ),
    ]
    for n in pre:
        n.name = f"scrfd_adapter/{n.output[0]}"
    post: list[onnx.NodeProto] = []
    zero = _const(graph, "zero_f", np.float32(0.0))
    one = _const(graph, "one_f", np.float32(1.0))
    half = _const(graph, "half_f", np.float32(0.5))
    shape_1 = _const(graph, "shape_n1", np.array([-1, 1], np.int64))
    shape_4 = _const(graph, "shape_n4", np.array([-1, 4], np.int64))
    shape_10 = _const(graph, "shape_n10", np.array([-1, 10], np.int64))
    starts_xy = _const(graph, "starts_xy", np.array([0], np.int64))
    ends_xy = _const(graph, "ends_xy", np.array([2], np.int64))
    ends_wh = _const(graph, "ends_wh", np.array([4], np.int64))
    axis_last = _const(graph, "axis_last", np.array([2], np.int64))
    outputs: dict[str, list[onnx.ValueInfoProto]] = {"score": [], "bbox": [], "kps": []}
    for s in STRIDES:
        n = [
            # score = sqrt(clip(cls) * clip(obj)), exactly YuNet's own decoding.
            helper.make_node("Clip", [f"cls_{s}", zero, one], [f"cls_{s}_c"]),
            helper.make_node("Clip", [f"obj_{s}", zero, one], [f"obj_{s}_c"]),
            helper.make_node("Mul", [f"cls_{s}_c", f"obj_{s}_c"], [f"co_{s}"]),
            helper.make_node("Sqrt", [f"co_{s}"], [f"sc_{s}"]),
            helper.make_node("Mul", [f"sc_{s}", zero], [f"sc0_{s}"]),
            helper.make_node("Concat", [f"sc_{s}", f"sc0_{s}"], [f"sc2_{s}"], axis=2),
            helper.make_node("Reshape", [f"sc2_{s}", shape_1], [f"score_{s}"]),
            # YuNet box (dx, dy, log w, log h) in stride units around the grid point ->
            # SCRFD distances (left, top, right, bottom) in stride units from it.
            helper.make_node("Slice", [f"bbox_{s}", starts_xy, ends_xy, axis_last], [f"dxy_{s}"]),
            helper.make_node("Slice", [f"bbox_{s}", ends_xy, ends_wh, axis_last], [f"lwh_{s}"]),
            helper.make_node("Exp", [f"lwh_{s}"], [f"wh_{s}"]),
            helper.make_node("Mul", [f"wh_{s}", half], [f"hwh_{s}"]),
            helper.make_node("Sub", [f"hwh_{s}", f"dxy_{s}"], [f"lt_{s}"]),
            helper.make_node("Add", [f"hwh_{s}", f"dxy_{s}"], [f"rb_{s}"]),
            helper.make_node("Concat", [f"lt_{s}", f"rb_{s}"], [f"dist_{s}"], axis=2),
            helper.make_node("Concat", [f"dist_{s}", f"dist_{s}"], [f"dist2_{s}"], axis=2),
            helper.make_node("Reshape", [f"dist2_{s}", shape_4], [f"bbox_out_{s}"]),
            # Landmarks: both decoders compute (grid + offset) * stride.
            helper.make_node("Concat", [f"kps_{s}", f"kps_{s}"], [f"kps2_{s}"], axis=2),
            helper.make_node("Reshape", [f"kps2_{s}", shape_10], [f"kps_out_{s}"]),
        ]
        for node in n:
            node.name = f"scrfd_adapter/{node.output[0]}"
        post += n
        for kind, name, width in (
            ("score", f"score_{s}", 1),
            ("bbox", f"bbox_out_{s}", 4),
            ("kps", f"kps_out_{s}", 10),
        ):
            outputs[kind].append(
                helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, [f"{name}_candidates", width]
                )
            )
    nodes = [*pre, *graph.node, *post]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(new_in, TensorProto.FLOAT, [1, 3, "height", "width"])
    )
    del graph.output[:]
    # SCRFD reads outputs by position: all scores, then all boxes, then all landmarks.
    graph.output.extend([*outputs["score"], *outputs["bbox"], *outputs["kps"]])
    return _finish(model, target)


def sface_as_arcface(sface_path: Path, target: Path) -> Path:
    """Wrap SFace so it takes ArcFace pre-processing (see module docstring)."""
    model = onnx.load(str(sface_path))
    graph = model.graph
    old_input = graph.input[0]
    sface_in = old_input.name
    new_in = "input.1"
    pre = [
        helper.make_node(
            "Mul",
            [new_in, _const(graph, "arcface_in_std", np.float32(ARCFACE_STD))],
            ["arc_x127_5"],
            name="arcface_adapter/scale",
        ),
        helper.make_node(
            "Add",
            ["arc_x127_5", _const(graph, "arcface_in_mean", np.float32(ARCFACE_MEAN))],
            [sface_in],
            name="arcface_adapter/shift",
        ),
    ]
    for node in graph.node:
        if node.name.startswith(("Sub", "_minus", "Mul", "_mul")):
            node.name = f"sface/{node.name}"
    nodes = [*pre, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    dims = [d.dim_param or d.dim_value for d in old_input.type.tensor_type.shape.dim]
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(new_in, TensorProto.FLOAT, dims))
    return _finish(model, target)


def build_test_pack(
    out_dir: Path, models_dir: Path = REPO_ROOT / "models", *, mxnet_style: bool = False
) -> Path:
    """Write the two wrapped graphs into `out_dir` and return it.

    With `mxnet_style` the recogniser is the unmodified SFace graph instead, whose
    in-graph `_minusscalar0`/`_mulscalar0` nodes make InsightFace (and our installer)
    feed raw 0-255 RGB: the other branch of ArcFaceONNX's pre-processing rule.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    yunet_as_scrfd(models_dir / "yunet_2023mar_fp32.onnx", out_dir / DETECTOR_FILE)
    if mxnet_style:
        sface = onnx.load(str(models_dir / "sface_2021dec_fp32.onnx"))
        _finish(sface, out_dir / MXNET_RECOGNIZER_FILE)
    else:
        sface_as_arcface(models_dir / "sface_2021dec_fp32.onnx", out_dir / RECOGNIZER_FILE)
    return out_dir


def zip_pack(folder: Path, target: Path) -> Path:
    """Zip a pack folder the way InsightFace ships packs: ONNX files at the top level."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, path.name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--mxnet-style", action="store_true", help="use SFace unwrapped")
    parser.add_argument("--zip", action="store_true", help="also write OUT_DIR.zip")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    folder = build_test_pack(args.out_dir, args.models, mxnet_style=args.mxnet_style)
    if args.zip:
        print(zip_pack(folder, folder.with_suffix(".zip")))


if __name__ == "__main__":
    main()
