"""Optimised ONNX Runtime graphs cached in the data dir, so a cold start skips graph
optimisation (fusions, NCHWc layout): about a third of a session's creation time.

The cache lives in ``<data_dir>/ort_cache/<manifest sha256[:16]>/``: a new or edited
model pack gets a new folder, never a stale graph. An optimised graph at level "all"
is specific to the onnxruntime version and the CPU's instruction set, so both are part
of each file's name. Every cached graph has a sidecar with its SHA-256, written after
the graph; a graph whose hash does not match (truncated by a power cut, edited) is
rebuilt from the verified original, never loaded. The originals keep their own check
against the manifest before any of this runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from kiosk.storage import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIR = "ort_cache"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def machine_tag() -> str:
    """onnxruntime version + a short hash of the CPU model and ISA flags."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.startswith(("model name", "flags"))]
        cpu = "".join(sorted(set(lines))) or cpu
    except OSError:
        pass
    return f"ort{ort.__version__}-{hashlib.sha256(cpu.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class OptimizedModelCache:
    """Where one model pack's optimised graphs live; see the module docstring."""

    folder: Path

    @classmethod
    def for_manifest(cls, data_dir: Path, manifest: Path) -> OptimizedModelCache:
        return cls(Path(data_dir) / CACHE_DIR / _sha256(manifest)[:16])

    def path_for(self, model: Path, variant: str) -> Path:
        """The cached graph for `model` under `variant` (provider and optimisation level)."""
        return self.folder / f"{model.stem}.{variant}.{machine_tag()}.onnx"

    def verified(self, cached: Path) -> bool:
        """True when `cached` exists and matches the hash written beside it."""
        sidecar = cached.with_suffix(".sha256.json")
        try:
            expected = json.loads(sidecar.read_text(encoding="utf-8"))["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        try:
            actual = _sha256(cached)
        except OSError:
            return False
        if actual != expected:
            log.warning("cached graph %s does not match its hash: rebuilding it", cached.name)
            return False
        return True

    def temp_path(self, cached: Path) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return cached.with_name(f".{cached.name}.{os.getpid()}.tmp")

    def commit(self, temp: Path, cached: Path) -> None:
        """Move a freshly written graph into place, then record its hash."""
        digest = _sha256(temp)
        os.replace(temp, cached)
        sidecar = cached.with_suffix(".sha256.json")
        atomic_write_bytes(sidecar, json.dumps({"sha256": digest}).encode())


__all__ = ["CACHE_DIR", "OptimizedModelCache", "machine_tag"]
