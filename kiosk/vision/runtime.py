"""The one place that creates ONNX Runtime sessions.

Execution provider is chosen from config (`auto` = CUDA when onnxruntime-gpu offers it,
else CPU); the provider that actually runs is reported, because ORT silently drops a
provider it cannot initialise and a technician must see that in calibration mode.

Threads are one budget for the whole process (`[runtime]` in the config): each model
role gets its intra-op count from it, OpenCV gets its own, and no ORT pool spins, since
a spinning pool burns the cores the UI, the camera and the other models are waiting for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from kiosk.config import RuntimeConfig
from kiosk.errors import ConfigError, ModelIntegrityError
from kiosk.vision.ort_cache import OptimizedModelCache, file_identity
from kiosk.vision.packs.manifest import ModelSpec

log = logging.getLogger(__name__)

_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_SEVERITY = {"verbose": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}
# Telemetry is on by default in ORT builds that have it (Windows ETW); an exam door
# reports to its centre and to nobody else. Off before the first session is made.
ort.disable_telemetry_events()


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def choose_providers(provider: str) -> list[str]:
    """Map the config's provider name to an ORT provider list, CPU always last."""
    available = available_providers()
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    if provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ConfigError(
                "runtime.provider = 'cuda' but this onnxruntime has no CUDA provider "
                "(install the `gpu` extra and a CUDA driver, or set provider = 'auto')"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "auto":
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]
    raise ConfigError(f"unknown runtime.provider {provider!r}")


ROLE_THREADS = {
    "detector": "detector_intra_op_threads",
    "recognizer": "intra_op_threads",
    "landmark": "landmark_intra_op_threads",
    "attribute": "landmark_intra_op_threads",
    "pad": "detector_intra_op_threads",
}
_process_budget_applied: list[int] = []


def threads_for(role: str, cfg: RuntimeConfig) -> int:
    """The intra-op thread count of one model role under the process's thread budget."""
    return int(getattr(cfg, ROLE_THREADS.get(role, "intra_op_threads")))


def apply_process_budget(cfg: RuntimeConfig) -> None:
    """Set OpenCV's pool to the budget once per process (cv2 would take every core for
    resize and warpAffine, competing with ORT and the UI for the same two cores)."""
    if _process_budget_applied:
        return
    import cv2

    cv2.setNumThreads(cfg.opencv_threads)
    _process_budget_applied.append(cfg.opencv_threads)


def session_options(cfg: RuntimeConfig, role: str, *, few_runs: bool = False) -> ort.SessionOptions:
    """Threads for `role`, no spinning (unless configured), the configured optimisation.

    `few_runs`: a session run a handful of times (`kiosk compare`) gets no memory
    pattern. ORT plans one from a shape's first run and allocates it, fresh, on the
    second: memory first touched then and never reused (~7,000 page faults for an SFace
    face + mirror; about 80 ms of a cold compare's wall on 2 cores with both sessions).
    Results are the same bits either way; only where the buffers live differs."""
    options = ort.SessionOptions()
    options.enable_mem_pattern = not few_runs
    options.intra_op_num_threads = threads_for(role, cfg)
    options.inter_op_num_threads = cfg.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = _OPT_LEVELS[cfg.graph_optimization]
    options.log_severity_level = _SEVERITY[cfg.log_level]
    spin = "1" if cfg.allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return options


@dataclass(frozen=True)
class LoadedSession:
    session: ort.InferenceSession
    provider: str  # the provider ORT actually placed the graph on (first in its list)
    load_ms: float
    input_name: str
    cached: bool = False  # opened from the optimised-graph cache


def _open(path: Path, options: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), options, providers=providers)


def create_session(
    model_path: Path,
    cfg: RuntimeConfig,
    *,
    role: str = "recognizer",
    cache: OptimizedModelCache | None = None,
    source: ModelSpec | None = None,
    few_runs: bool = False,
) -> LoadedSession:
    """Open one ONNX model; an unreadable or invalid file is a ModelIntegrityError.

    With `source` (the pack entry `model_path` belongs to), the file is checked against
    the manifest before ORT reads it, unless a verified cached graph shows it has not
    changed since it was checked (kiosk/vision/ort_cache.py says why that is enough).
    With `cache`, a verified optimised graph is opened instead when there is one, and
    otherwise the graph ORT optimises now is saved for the next start. `few_runs`: see
    `session_options`."""
    import time

    apply_process_budget(cfg)
    providers = choose_providers(cfg.provider)
    start = time.perf_counter()
    model_path = Path(model_path)
    use_cache = cache is not None and cfg.graph_optimization != "disable"
    target = None
    if use_cache:
        assert cache is not None
        device = providers[0].removesuffix("ExecutionProvider").lower()
        target = cache.path_for(model_path, f"{device}-{cfg.graph_optimization}")
        session = _open_cached(cache, target, model_path, source, cfg, role, providers, few_runs)
        if session is not None:
            return _loaded(session, model_path, providers, start, cached=True)
    identity = _identity(model_path) if source is not None and use_cache else None
    if source is not None:
        source.verify()
    options = session_options(cfg, role, few_runs=few_runs)
    temp = data_name = None
    if use_cache:
        assert cache is not None and target is not None
        try:
            temp, data_name = cache.build_paths(target)
        except OSError as exc:  # a read-only data dir only costs start-up time
            log.warning("no optimised-graph cache (%s): opening %s directly", exc, target.name)
        else:
            options.optimized_model_filepath = str(temp)
            # Weights in their own file, which ORT maps when the graph is next loaded.
            options.add_session_config_entry(
                "session.optimized_model_external_initializers_file_name", data_name
            )
            # ORT warns that an NCHWc graph is hardware-specific: the cache key says so.
            options.log_severity_level = max(options.log_severity_level, _SEVERITY["error"])
    try:
        session = _open(model_path, options, providers)
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
        raise ModelIntegrityError(f"{model_path.name}: onnxruntime cannot load it: {exc}") from None
    if cache is not None and temp is not None and target is not None and data_name is not None:
        try:
            cache.commit(
                temp,
                target,
                data_name,
                source=model_path,
                source_sha256=source.sha256 if source is not None else "",
                source_identity=identity if identity == _identity(model_path) else None,
            )
        except OSError as exc:  # a read-only data dir only costs start-up time
            log.warning("cannot cache the optimised graph %s: %s", target.name, exc)
            temp.unlink(missing_ok=True)
            (temp.parent / data_name).unlink(missing_ok=True)
    return _loaded(session, model_path, providers, start, cached=False)


def _open_cached(
    cache: OptimizedModelCache,
    target: Path,
    model_path: Path,
    source: ModelSpec | None,
    cfg: RuntimeConfig,
    role: str,
    providers: list[str],
    few_runs: bool,
) -> ort.InferenceSession | None:
    """The verified cached graph of `model_path` opened, or None: build it."""
    found = cache.load(target, model_path, source.sha256 if source is not None else "")
    if found is None:
        return None
    if source is not None and not found.source_unchanged:
        identity = _identity(model_path)
        source.verify()  # edited since the cache was built: refused by name
        if identity is not None and identity == _identity(model_path):
            cache.rebind(target, model_path, identity)  # e.g. a reinstalled, equal file
    fast = session_options(cfg, role, few_runs=few_runs)
    # Already optimised: running the optimisers again would only cost time.
    fast.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return _open(found.graph, fast, providers)
    except Exception as exc:  # a graph from another build: rebuild it
        log.warning("cached graph %s unusable (%s): rebuilding it", target.name, exc)
        return None


def _identity(path: Path) -> dict[str, int] | None:
    try:
        return file_identity(path)
    except OSError:
        return None  # missing: the manifest check names it


def _loaded(
    session: ort.InferenceSession,
    model_path: Path,
    providers: list[str],
    start: float,
    *,
    cached: bool,
) -> LoadedSession:
    import time

    load_ms = (time.perf_counter() - start) * 1000.0
    actual = session.get_providers()[0]
    if providers[0] != actual:
        log.warning("%s: asked for %s, running on %s", model_path.name, providers[0], actual)
    return LoadedSession(session, actual, load_ms, session.get_inputs()[0].name, cached)
