"""Model packs: the manifest every pack carries (`manifest.py`, the runtime reads it
before each engine start) and the installer for user-supplied InsightFace packs
(`insightface_pack.py`, reached only by `kiosk models install`).

Only the manifest is re-exported here, so loading a pack never imports `onnx` or the
installer; import `kiosk.vision.packs.insightface_pack` where an install is meant.
"""

from kiosk.vision.packs.manifest import (
    KINDS,
    MANIFEST,
    ROLES,
    ModelPack,
    ModelSpec,
    list_packs,
    load_pack,
    packs_dir,
    resolve_pack,
    sha256_file,
)

__all__ = [
    "KINDS",
    "MANIFEST",
    "ROLES",
    "ModelPack",
    "ModelSpec",
    "list_packs",
    "load_pack",
    "packs_dir",
    "resolve_pack",
    "sha256_file",
]
