"""InsightFace model packs (buffalo_l, buffalo_s, antelopev2, ...) installed by the user.

InsightFace's weights are licensed for non-commercial research only and are not on
PyPI, so the kiosk never ships or downloads them: a technician installs a pack from a
local folder or zip with `kiosk models install PATH`. The installer looks inside each
ONNX graph the way insightface's `model_zoo.get_model` routes (SCRFD detector: ≥5
outputs; ArcFace recogniser: one square ≥112 input; 192×192 landmark, 96×96 attribute
models are recorded but unused), copies the files into `packs_dir(cfg)/<name>/` and
writes a `manifest.toml` in the bundled pack's format. From then on the pack is an
ordinary manifest pack: hashed before every load, routed by its declared role/kind.

Installing reads graphs with `onnx` only; running the SCRFD detector an installed pack
names needs the `insightface` package (`kiosk/vision/detect_scrfd.py`, the `[insightface]`
extra).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import onnx

from kiosk.config import KioskConfig
from kiosk.errors import ModelPackError
from kiosk.vision.packs.manifest import MANIFEST, ModelPack, load_pack, packs_dir, sha256_file

log = logging.getLogger(__name__)

INSIGHTFACE_LICENCE = "InsightFace: non-commercial research only"
LICENCE_WARNING = (
    "InsightFace model packs are licensed for non-commercial research only. Running them "
    "in a live exam centre needs a commercial licence from InsightFace; the default pack "
    "(MIT/Apache-2.0) has no such restriction."
)
# buffalo_l unpacked is ~330 MB, antelopev2 ~410 MB; anything far beyond is not a pack.
MAX_PACK_BYTES = 2 << 30
MAX_ZIP_ENTRIES = 256
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LICENCE_STEMS = ("license", "licence", "copying")


@dataclass(frozen=True)
class RoutedModel:
    """What one ONNX file is, decided from its graph as insightface's router would."""

    file: str
    role: str  # detector | recognizer | landmark | attribute
    kind: str
    input_size: tuple[int, int]  # (width, height); (0, 0) where the graph leaves it open
    mean: float
    std: float
    extra: dict[str, Any] = field(default_factory=dict)


def _dims(value: onnx.ValueInfoProto) -> list[int | None]:
    return [d.dim_value if d.dim_value > 0 else None for d in value.type.tensor_type.shape.dim]


def _has_builtin_normalisation(graph: onnx.GraphProto) -> bool:
    """insightface's rule for MXNet-exported graphs that subtract/scale internally.

    ArcFaceONNX/Landmark/Attribute look at the first 8 node names: a `Sub`/`_minus` and
    a `Mul`/`_mul` mean the graph normalises itself and is fed raw 0-255 RGB (mean 0,
    std 1). Mirroring the rule keeps our pre-processing identical to insightface's.
    """
    find_sub = find_mul = False
    for i, node in enumerate(graph.node[:8]):
        if node.name.startswith(("Sub", "_minus")):
            find_sub = True
        if node.name.startswith(("Mul", "_mul")):
            find_mul = True
        if i < 3 and node.name == "bn_data":
            find_sub = find_mul = True
    return find_sub and find_mul


def route_onnx(path: Path) -> RoutedModel | None:
    """Classify one ONNX file; None for graphs the kiosk has no use for (e.g. inswapper).

    Raises ModelPackError for a file that is not ONNX, or for a detector the kiosk
    cannot use (SCRFD without the 5-point landmark heads alignment needs).
    """
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ModelPackError(f"{path.name}: not a readable ONNX graph ({exc})") from None
    graph = model.graph
    weights = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]  # as onnxruntime lists them
    outputs = list(graph.output)
    if not inputs:
        raise ModelPackError(f"{path.name}: ONNX graph has no input")
    shape = _dims(inputs[0])
    h, w = (shape[2], shape[3]) if len(shape) == 4 else (None, None)
    size = (w or 0, h or 0)
    name = path.name
    if len(outputs) >= 5:
        if len(outputs) in (6, 10):
            raise ModelPackError(
                f"{name}: SCRFD detector without landmark outputs; the kiosk aligns faces "
                "by 5 landmarks, use a *_kps / *bnkps detector (9 or 15 outputs)"
            )
        if len(outputs) not in (9, 15):
            raise ModelPackError(
                f"{name}: {len(outputs)} outputs; an SCRFD detector has 9 or 15 "
                "(strides × score/bbox/landmarks)"
            )
        strides = [8, 16, 32] if len(outputs) == 9 else [8, 16, 32, 64, 128]
        return RoutedModel(
            name,
            "detector",
            "scrfd",
            size,
            127.5,
            128.0,
            {"strides": strides, "num_anchors": 2 if len(outputs) == 9 else 1},
        )
    builtin = _has_builtin_normalisation(graph)
    out_dims = _dims(outputs[0]) if outputs else []
    out_dim = out_dims[-1] if out_dims else None
    # Landmark and attribute models: insightface feeds (x - 127.5) / 128 unless built in.
    aux_mean, aux_std = (0.0, 1.0) if builtin else (127.5, 128.0)
    if (h, w) == (192, 192):
        kind = {212: "2d106", 3309: "3d68"}.get(out_dim or 0, "landmark")
        return RoutedModel(name, "landmark", kind, size, aux_mean, aux_std, {"used": False})
    if (h, w) == (96, 96):
        kind = "genderage" if out_dim == 3 else "attribute"
        return RoutedModel(name, "attribute", kind, size, aux_mean, aux_std, {"used": False})
    if len(inputs) == 2 and (h, w) == (128, 128):
        log.info("%s: face swapper (inswapper), not used by the kiosk", name)
        return None
    if h is not None and h == w and h >= 112 and h % 16 == 0:
        if len(outputs) != 1:
            raise ModelPackError(f"{name}: a recogniser has one output, this has {len(outputs)}")
        extra: dict[str, Any] = {"embedding_dim": int(out_dim or 0), "flip_average": False}
        if builtin:
            extra["normalisation"] = "in-graph (MXNet Sub/Mul nodes): fed raw 0-255 RGB"
        return RoutedModel(
            name,
            "recognizer",
            "arcface",
            size,
            0.0 if builtin else 127.5,
            1.0 if builtin else 127.5,
            extra,
        )
    log.info("%s: input %s, outputs %d: not a model insightface routes", name, shape, len(outputs))
    return None


def _is_licence(name: str) -> bool:
    return PurePosixPath(name).stem.lower().startswith(_LICENCE_STEMS)


def _wanted(name: str) -> bool:
    """Files worth copying: ONNX graphs and licence texts; never macOS resource forks."""
    pure = PurePosixPath(name)
    if any(part == "__MACOSX" for part in pure.parts) or pure.name.startswith("."):
        return False
    return pure.suffix.lower() == ".onnx" or _is_licence(pure.name)


def _check_zip_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ModelPackError(f"zip entry {info.filename!r} has an absolute path; refused")
    if ".." in PurePosixPath(name).parts:
        raise ModelPackError(f"zip entry {info.filename!r} points outside the archive; refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ModelPackError(f"zip entry {info.filename!r} is a symbolic link; refused")
    if info.flag_bits & 0x1:
        raise ModelPackError(f"zip entry {info.filename!r} is encrypted; refused")


def _extract_zip(source: Path, staging: Path, max_bytes: int) -> None:
    """Extract only ONNX and licence files, flat, after refusing the whole archive if any
    entry is absolute, escapes it, is a link, or the wanted files exceed `max_bytes`."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelPackError(f"{source.name}: not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ModelPackError(f"{source.name}: {len(infos)} entries; a pack has a handful")
        for info in infos:
            _check_zip_entry(info)
        wanted = [i for i in infos if not i.is_dir() and _wanted(i.filename.replace("\\", "/"))]
        declared = sum(i.file_size for i in wanted)
        if declared > max_bytes:
            raise ModelPackError(
                f"{source.name}: {declared / 1e6:.0f} MB of models, over the "
                f"{max_bytes / 1e6:.0f} MB a pack may hold"
            )
        written = 0
        for info in wanted:
            flat = PurePosixPath(info.filename.replace("\\", "/")).name
            target = staging / flat
            if target.exists():
                raise ModelPackError(f"{source.name}: two entries named {flat}")
            with zf.open(info) as src, target.open("wb") as dst:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > max_bytes:  # headers can lie; count what comes out
                        raise ModelPackError(f"{source.name}: expands past {max_bytes} bytes")
                    dst.write(block)


def _copy_folder(source: Path, staging: Path, max_bytes: int) -> None:
    files = [
        p for p in sorted(source.rglob("*")) if p.is_file() and _wanted(str(p.relative_to(source)))
    ]
    total = sum(p.stat().st_size for p in files)
    if total > max_bytes:
        raise ModelPackError(f"{source}: {total / 1e6:.0f} MB of models, over the limit")
    for path in files:
        target = staging / path.name
        if target.exists():
            raise ModelPackError(f"{source}: two files named {path.name}")
        shutil.copyfile(path, target)


def _licence_text(staging: Path) -> tuple[str, str]:
    """(licence, licence_file): the first line of a bundled licence file, else the
    InsightFace default terms."""
    for path in sorted(staging.iterdir()):
        if _is_licence(path.name):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            first = next((ln.strip() for ln in lines if ln.strip()), "")
            return (first[:120] or f"see {path.name}"), path.name
    return INSIGHTFACE_LICENCE, ""


def _manifest_text(
    name: str,
    source: Path,
    routed: list[RoutedModel],
    hashes: dict[str, str],
    licence: tuple[str, str],
) -> str:
    """The pack's manifest.toml, in the bundled pack's format (see models/manifest.toml)."""
    licence_text, licence_file = licence

    rec = next(m for m in routed if m.role == "recognizer")
    models = []
    for m in routed:
        entry: dict[str, Any] = {
            "role": m.role,
            "kind": m.kind,
            "file": m.file,
            "sha256": hashes[m.file],
            "licence": licence_text,
        }
        if licence_file:
            entry["licence_file"] = licence_file
        entry |= {
            "input_size": list(m.input_size),
            "colour_order": "RGB",  # insightface feeds every model with swapRB=True
            "mean": [m.mean] * 3,
            "std": [m.std] * 3,
        }
        entry |= m.extra
        models.append(entry)
    data = {
        "pack": {
            "id": name,
            "name": f"InsightFace pack {name} (installed from {source.name})",
            "origin": f"user-supplied local {'zip' if source.is_file() else 'folder'} "
            f"{source.name}",
            "embedding_dim": int(rec.extra.get("embedding_dim", 0)),
            "licence": licence_text,
        },
        "models": models,
    }
    if source.is_file():  # lets a reader compare the archive with its publisher's checksum
        data["pack"]["source_sha256"] = sha256_file(source)
    header = (
        "# Written by `kiosk models install`: roles and pre-processing were read from each\n"
        "# ONNX graph the way insightface's model_zoo routes. Thresholds for this pack come\n"
        "# from its own calibration (kiosk eval --calibrate), never from the default pack.\n\n"
    )
    lines = ["[pack]", *(f"{k} = {_toml_value(v)}" for k, v in data["pack"].items())]
    for entry in data["models"]:
        lines += ["", "[[models]]", *(f"{k} = {_toml_value(v)}" for k, v in entry.items())]
    return header + "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    """One TOML value on one line (tomli_w spreads every array over several lines, which
    makes the manifest much harder to read beside the bundled one)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")


def install_pack(
    source: Path,
    cfg: KioskConfig,
    name: str | None = None,
    *,
    replace: bool = False,
    max_bytes: int = MAX_PACK_BYTES,
) -> ModelPack:
    """Install an InsightFace pack from a local folder or .zip as `packs_dir(cfg)/<name>`.

    The pack must hold exactly one SCRFD detector (with landmarks) and one ArcFace
    recogniser; landmark/attribute models are recorded but unused; anything else is left
    out. Files are copied to a staging folder first, routed and hashed from the copies,
    and the folder is renamed into place only once its manifest loads and verifies, so a
    failed install never leaves a half pack that `vision.pack` could select.
    """
    source = Path(source).expanduser()
    if not source.exists():
        raise ModelPackError(f"{source}: no such file or folder")
    name = name or (source.stem if source.is_file() else source.name)
    if not _NAME_RE.fullmatch(name) or name == "default":
        raise ModelPackError(
            f"pack name {name!r} must be letters, digits, '.', '_' or '-' (not 'default')"
        )
    base = packs_dir(cfg)
    final = base / name
    if final.exists() and not replace:
        raise ModelPackError(f"a pack named {name!r} is already installed (use --replace)")
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".install-{name}-", dir=base))
    try:
        if source.is_dir():
            _copy_folder(source, staging, max_bytes)
        elif zipfile.is_zipfile(source):
            _extract_zip(source, staging, max_bytes)
        else:
            raise ModelPackError(f"{source.name}: expected a folder or a .zip of ONNX files")
        routed: list[RoutedModel] = []
        for path in sorted(staging.glob("*.onnx")):
            found = route_onnx(path)
            if found is None:
                path.unlink()
            else:
                routed.append(found)
        for role in ("detector", "recognizer"):
            count = sum(m.role == role for m in routed)
            if count != 1:
                files = ", ".join(m.file for m in routed) or "no usable ONNX files"
                raise ModelPackError(
                    f"{source.name}: a pack needs exactly one {role}, found {count} ({files})"
                )
        hashes = {m.file: sha256_file(staging / m.file) for m in routed}
        text = _manifest_text(name, source, routed, hashes, _licence_text(staging))
        (staging / MANIFEST).write_text(text, encoding="utf-8")
        load_pack(staging).verify()
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pack = load_pack(final)
    log.info(
        "installed pack %s from %s: %s",
        name,
        source,
        ", ".join(f"{s.role}={s.kind}:{s.file}" for s in pack.models),
    )
    return pack


__all__ = [
    "INSIGHTFACE_LICENCE",
    "LICENCE_WARNING",
    "RoutedModel",
    "install_pack",
    "route_onnx",
]
