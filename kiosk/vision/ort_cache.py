"""Optimised ONNX Runtime graphs cached in the data dir, so a cold start neither optimises
a graph (fusions, NCHWc layout) nor parses and copies its weights.

The cache lives in ``<data_dir>/ort_cache/<manifest sha256[:16]>/``: a new or edited
model pack gets a new folder, never a stale graph. An optimised graph at level "all"
is specific to the onnxruntime version and the CPU's instruction set, so both are part
of each file's name.

Each cached model is three files: the graph (``X.onnx``, a few tens of KB), its weights as
ONNX external data (``X.onnx.<build>.data``), and a sidecar (``X.sha256.json``) written
last, holding the SHA-256 of both and what the graph was built from. Weights outside the
graph are why the cache loads fast: ORT maps them from the file instead of parsing them
out of a 38 MB protobuf and copying them (SFace session 170 -> 45 ms on the bench CPU).
Both files are hashed against the sidecar before every load; a mismatch (a power cut
mid-write, an edit) means the graph is rebuilt from the original, never loaded.

The original model file is what the manifest vouches for. It is hashed before the cache
is built, and the sidecar records its identity then (device, inode, size, mtime, ctime).
Later starts hash it again only when that identity changed: a cached graph that passes
its own hash is byte for byte what was built from a verified original, and an original
edited since (which sets its ctime to now; no call sets a ctime back, only a clock
change) is hashed and refused by name as before. So every byte ORT runs is checked,
once per start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kiosk.storage import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIR = "ort_cache"
# An original changed less than this before its identity is recorded could be changed
# again within the same timestamp tick without its stat showing it (git's "racy clean"):
# such a binding is not recorded, so the next start hashes the original again.
RACY_NS = 2_000_000_000


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@cache
def machine_tag() -> str:
    """onnxruntime version + a short hash of the CPU model and ISA flags."""
    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.startswith(("model name", "flags"))]
        cpu = "".join(sorted(set(lines))) or cpu
    except OSError:
        pass
    return f"ort{ort.__version__}-{hashlib.sha256(cpu.encode()).hexdigest()[:8]}"


def file_identity(path: Path) -> dict[str, int]:
    """What changes whenever a file's content does (no call sets a ctime back)."""
    st = os.stat(path)
    return {
        "dev": st.st_dev,
        "ino": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
    }


@dataclass(frozen=True)
class CachedGraph:
    """One verified cached graph, ready for ORT; `source_unchanged` says whether the
    original it was built from is still the very file that was verified then."""

    graph: Path
    source_unchanged: bool


@dataclass(frozen=True)
class OptimizedModelCache:
    """Where one model pack's optimised graphs live; see the module docstring."""

    folder: Path

    @classmethod
    def for_manifest(cls, data_dir: Path, manifest: Path) -> OptimizedModelCache:
        return cls(Path(data_dir) / CACHE_DIR / sha256_of(manifest)[:16])

    def path_for(self, model: Path, variant: str) -> Path:
        """The cached graph for `model` under `variant` (provider and optimisation level)."""
        return self.folder / f"{model.stem}.{variant}.{machine_tag()}.onnx"

    @staticmethod
    def _sidecar(graph: Path) -> Path:
        return graph.with_suffix(".sha256.json")

    def _record(self, graph: Path) -> dict[str, Any] | None:
        try:
            record = json.loads(self._sidecar(graph).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _matches(self, graph: Path, record: dict[str, Any]) -> bool:
        """The graph and its weights hash to what the sidecar says."""
        data_name = record.get("data")
        if not isinstance(data_name, str) or Path(data_name).name != data_name:
            return False  # weights named outside the cache folder: not ours
        try:
            if sha256_of(graph) != record.get("sha256"):
                return False
            return sha256_of(graph.with_name(data_name)) == record.get("data_sha256")
        except OSError:
            return False

    def load(self, graph: Path, source: Path, source_sha256: str) -> CachedGraph | None:
        """`graph` if it and its weights match the hashes in its sidecar and it was built
        from a file with `source_sha256` (the manifest's); None means: rebuild it."""
        record = self._record(graph)
        if record is None or record.get("source_sha256") != source_sha256:
            return None
        if not self._matches(graph, record):
            if graph.exists():
                log.warning("cached graph %s does not match its hash: rebuilding it", graph.name)
            return None
        try:
            unchanged = record.get("source") == {"path": str(source), **file_identity(source)}
        except OSError:
            unchanged = False  # the original is gone: its own check will say so
        return CachedGraph(graph, unchanged)

    def verified(self, graph: Path) -> bool:
        """True when `graph` and its weights exist and match the hashes beside them."""
        record = self._record(graph)
        return record is not None and self._matches(graph, record)

    def build_paths(self, graph: Path) -> tuple[Path, str]:
        """A temporary name for a graph being built and the name of its weights file.

        The graph names its weights file inside itself, so that file gets its final,
        build-unique name now and is never renamed; only the small graph is moved into
        place. Two processes building at once each write their own files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        build = f"{os.getpid()}-{time.time_ns()}"
        return graph.with_name(f".{graph.name}.{build}.tmp"), f"{graph.name}.{build}.data"

    def commit(
        self,
        temp: Path,
        graph: Path,
        data_name: str,
        *,
        source: Path,
        source_sha256: str,
        source_identity: dict[str, int] | None,
    ) -> None:
        """Move a freshly written graph into place, then record both hashes and what it
        was built from (the original's identity when it was verified just before)."""
        record: dict[str, Any] = {
            "sha256": sha256_of(temp),
            "data": data_name,
            "data_sha256": sha256_of(graph.with_name(data_name)),
            "source_sha256": source_sha256,
        }
        if source_identity is not None and _settled(source_identity):
            record["source"] = {"path": str(source), **source_identity}
        os.replace(temp, graph)
        atomic_write_bytes(self._sidecar(graph), json.dumps(record).encode())
        for old in self.folder.glob(f"{graph.name}.*.data"):  # weights of earlier builds
            if old.name != data_name:
                old.unlink(missing_ok=True)

    def rebind(self, graph: Path, source: Path, source_identity: dict[str, int]) -> None:
        """Record that `source`, as it is now, was just verified against the manifest
        (a reinstalled original with equal content), so the next start need not hash it."""
        record = self._record(graph)
        if record is None or not _settled(source_identity):
            return
        record["source"] = {"path": str(source), **source_identity}
        try:
            atomic_write_bytes(self._sidecar(graph), json.dumps(record).encode())
        except OSError as exc:  # a read-only data dir only costs start-up time
            log.warning("cannot update %s: %s", graph.name, exc)


def _settled(identity: dict[str, int]) -> bool:
    """An identity old enough to be trusted (see RACY_NS)."""
    return time.time_ns() - identity["ctime_ns"] > RACY_NS


__all__ = ["CACHE_DIR", "CachedGraph", "OptimizedModelCache", "file_identity", "machine_tag"]
