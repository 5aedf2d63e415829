"""The one place that creates ONNX Runtime sessions.

Execution provider is chosen from config (`auto` = CUDA when onnxruntime-gpu offers it,
else CPU); the provider that actually runs is reported, because ORT silently drops a
provider it cannot initialise and a technician must see that in calibration mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from kiosk.config import RuntimeConfig
from kiosk.errors import ConfigError, ModelIntegrityError

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


@dataclass(frozen=True)
class LoadedSession:
    session: ort.InferenceSession
    provider: str  # the provider ORT actually placed the graph on (first in its list)
    load_ms: float
    input_name: str


def create_session(model_path: Path, cfg: RuntimeConfig) -> LoadedSession:
    """Open one ONNX model; an unreadable or invalid file is a ModelIntegrityError."""
    import time

    options = ort.SessionOptions()
    options.intra_op_num_threads = cfg.intra_op_threads
    options.inter_op_num_threads = cfg.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = _OPT_LEVELS[cfg.graph_optimization]
    options.log_severity_level = _SEVERITY[cfg.log_level]
    providers = choose_providers(cfg.provider)
    start = time.perf_counter()
    try:
        session = ort.InferenceSession(str(model_path), options, providers=providers)
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
        raise ModelIntegrityError(f"{model_path.name}: onnxruntime cannot load it: {exc}") from None
    load_ms = (time.perf_counter() - start) * 1000.0
    actual = session.get_providers()[0]
    if providers[0] != actual:
        log.warning("%s: asked for %s, running on %s", model_path.name, providers[0], actual)
    return LoadedSession(session, actual, load_ms, session.get_inputs()[0].name)
