"""Model packs: a folder of ONNX files plus `manifest.toml` naming each file's role,
pre-processing, licence and SHA-256. The manifest is the one source of model facts;
the engine routes by the declared `role`/`kind`, never by guessing from the graph
(insightface's model_zoo misroutes YuNet as SCRFD and feeds SFace the wrong scaling).
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from kiosk.errors import ModelIntegrityError, ModelPackError

log = logging.getLogger(__name__)

MANIFEST = "manifest.toml"
ROLES = ("detector", "recognizer", "pad", "landmark", "attribute")
KINDS = {"detector": ("yunet", "scrfd"), "recognizer": ("sface", "arcface"), "pad": ("generic",)}


@dataclass(frozen=True)
class ModelSpec:
    role: str
    kind: str
    file: str
    sha256: str
    licence: str
    path: Path
    input_size: tuple[int, int] = (0, 0)
    colour_order: str = "BGR"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    flip_average: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def verify(self) -> None:
        """Refuse a missing, truncated or modified file before onnxruntime ever sees it."""
        if not self.path.is_file():
            raise ModelIntegrityError(f"model file {self.file} is missing from {self.path.parent}")
        digest = sha256_file(self.path)
        if digest != self.sha256:
            raise ModelIntegrityError(
                f"model file {self.file} does not match its manifest "
                f"(sha256 {digest[:12]}…, expected {self.sha256[:12]}…): modified or truncated"
            )


@dataclass(frozen=True)
class ModelPack:
    pack_id: str
    name: str
    root: Path
    models: tuple[ModelSpec, ...]
    calibration: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def get(self, role: str) -> ModelSpec:
        for spec in self.models:
            if spec.role == role:
                return spec
        raise ModelPackError(f"pack {self.pack_id} has no {role} model")

    def has(self, role: str) -> bool:
        return any(spec.role == role for spec in self.models)

    def verify(self) -> None:
        for spec in self.models:
            spec.verify()

    @property
    def calibration_path(self) -> Path | None:
        return self.root / self.calibration if self.calibration else None


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _tuple(value: Any, n: int, what: str, where: str) -> tuple:
    if not isinstance(value, list) or len(value) != n:
        raise ModelPackError(f"{where}: {what} must be a list of {n} numbers")
    return tuple(value)


def load_pack(root: Path) -> ModelPack:
    """Parse and check a pack's manifest (files are hashed by `verify`, not here)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise ModelPackError(f"{root} is not a model pack: no {MANIFEST}")
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelPackError(f"{manifest}: not valid TOML: {exc}") from None
    pack = data.get("pack", {})
    if "id" not in pack:
        raise ModelPackError(f"{manifest}: [pack] id is required")
    specs = []
    for i, entry in enumerate(data.get("models", [])):
        where = f"{manifest} models[{i}]"
        missing = [k for k in ("role", "kind", "file", "sha256", "licence") if k not in entry]
        if missing:
            raise ModelPackError(f"{where}: missing {', '.join(missing)}")
        role, kind = entry["role"], entry["kind"]
        if role not in ROLES:
            raise ModelPackError(f"{where}: unknown role {role!r}")
        if role in KINDS and kind not in KINDS[role]:
            raise ModelPackError(f"{where}: unknown {role} kind {kind!r}")
        known = {
            "role",
            "kind",
            "file",
            "sha256",
            "licence",
            "input_size",
            "colour_order",
            "mean",
            "std",
            "flip_average",
        }
        specs.append(
            ModelSpec(
                role=role,
                kind=kind,
                file=entry["file"],
                sha256=entry["sha256"].lower(),
                licence=entry["licence"],
                path=root / entry["file"],
                input_size=_tuple(entry.get("input_size", [0, 0]), 2, "input_size", where),
                colour_order=entry.get("colour_order", "BGR"),
                mean=_tuple(entry.get("mean", [0.0, 0.0, 0.0]), 3, "mean", where),
                std=_tuple(entry.get("std", [1.0, 1.0, 1.0]), 3, "std", where),
                flip_average=bool(entry.get("flip_average", False)),
                extra={k: v for k, v in entry.items() if k not in known},
            )
        )
    result = ModelPack(
        pack["id"],
        pack.get("name", pack["id"]),
        root,
        tuple(specs),
        pack.get("calibration", ""),
        {k: v for k, v in pack.items()},
    )
    for role in ("detector", "recognizer"):
        result.get(role)
    return result


def packs_dir(cfg: KioskConfig) -> Path:
    return cfg.data_dir / "packs"


def resolve_pack(cfg: KioskConfig) -> ModelPack:
    """The pack named by `vision.pack`: "default" is the bundled one in `paths.models_dir`."""
    if cfg.vision.pack == "default":
        return load_pack(Path(cfg.paths.models_dir))
    root = packs_dir(cfg) / cfg.vision.pack
    if not root.is_dir():
        raise ModelPackError(
            f"model pack {cfg.vision.pack!r} is not installed (kiosk models install PATH)"
        )
    return load_pack(root)


def list_packs(cfg: KioskConfig) -> list[ModelPack]:
    found = [load_pack(Path(cfg.paths.models_dir))]
    base = packs_dir(cfg)
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if (child / MANIFEST).is_file():
                try:
                    found.append(load_pack(child))
                except ModelPackError as exc:
                    log.warning("skipping broken pack %s: %s", child, exc)
    return found
