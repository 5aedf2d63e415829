"""`kiosk bench`'s door figures: whole check-in attempts (claim → decision) on the demo
door, with the real liveness check answering rendered heads, idle and beside a competing
load, and the cv2 reference on the very frames the door analysed. It lives beside the
demo door it drives (only the CLI, the UI and the demo may take a door from kiosk.app).

Costs are CPU time (`time.process_time`, all threads of this process) as well as wall
time: a development machine shared with other work inflates wall time by whatever else
runs, while CPU time is what the door itself spends. The competing load is a second
process spinning on one core, started and stopped here.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.app.driver import DoorDriver
from kiosk.camera import GrabbedFrame
from kiosk.checkin.flow import StateName
from kiosk.config import KioskConfig
from kiosk.demo.door import SimClock, build_demo_door
from kiosk.evaluation.cv2_reference import Cv2Reference, Cv2Threads
from kiosk.vision.pipeline import FaceEngine, FaceObservation, FrameAnalysis

CAPTURING = (StateName.CLAIMED, StateName.CAPTURE, StateName.LIVENESS)


def _burn(stop: Any) -> None:  # pragma: no cover - runs in the child process
    while not stop.is_set():
        for _ in range(100_000):
            pass


@contextmanager
def competing_load(cores: int = 1) -> Iterator[None]:
    """`cores` processes busy-looping for the duration of the block."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_burn, args=(stop,), daemon=True) for _ in range(cores)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        stop.set()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()


class MeteredEngine:
    """The door's engine with CPU and wall time counted per call (the flow and the driver
    use it in place of the engine; everything else is delegated)."""

    def __init__(self, engine: FaceEngine) -> None:
        self._engine = engine
        self.cpu_ms = self.wall_ms = 0.0
        self.embedded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def analyze(self, frame: np.ndarray, **kwargs: Any) -> FrameAnalysis:
        c, w = time.process_time(), time.perf_counter()
        try:
            return self._engine.analyze(frame, **kwargs)
        finally:
            self.cpu_ms += (time.process_time() - c) * 1000
            self.wall_ms += (time.perf_counter() - w) * 1000

    def embed_observations(self, observations: list[FaceObservation]) -> int:
        c, w = time.process_time(), time.perf_counter()
        try:
            n = self._engine.embed_observations(observations)
            self.embedded += n
            return n
        finally:
            self.cpu_ms += (time.process_time() - c) * 1000
            self.wall_ms += (time.perf_counter() - w) * 1000


@dataclass
class Attempt:
    frames: int = 0
    liveness_frames: int = 0
    cpu_ms: float = 0.0  # the whole door (engine, flow, liveness cues, record) per attempt
    cpu_ms_capture: float = 0.0  # claim → decision without the liveness-challenge frames
    liveness_cpu_ms: list[float] = field(default_factory=list)
    liveness_wall_ms: list[float] = field(default_factory=list)
    engine_cpu_ms: float = 0.0
    engine_wall_ms: float = 0.0
    embeddings: int = 0
    decision: str = ""
    reason: str = ""


def run_attempts(
    cfg: KioskConfig, engine: FaceEngine, *, fps: float = 15.0
) -> tuple[list[Attempt], list[np.ndarray]]:
    """Every attempt of the demo script (the genuine applicant, the impostor) and the frames
    the door analysed during them."""
    clock = SimClock()
    metered = MeteredEngine(engine)
    demo = build_demo_door(cfg, engine=engine, clock=clock, fps=fps)
    demo.flow.engine = metered  # type: ignore[assignment]
    driver = DoorDriver(metered, demo.flow)  # type: ignore[arg-type]
    attempts: list[Attempt] = []
    frames: list[np.ndarray] = []
    current: Attempt | None = None
    try:
        source = demo.camera
        source.open()
        seq = 0
        while (image := source.read()) is not None:
            seq += 1
            clock.advance(1.0 / fps)
            demo.flow.tick()
            before = demo.flow.state.name
            e_cpu, e_wall = metered.cpu_ms, metered.wall_ms
            c, w = time.process_time(), time.perf_counter()
            driver.process(GrabbedFrame(image, seq, clock()))
            cpu, wall = (time.process_time() - c) * 1000, (time.perf_counter() - w) * 1000
            after = demo.flow.state
            if current is None and before == StateName.IDLE and after.name in CAPTURING:
                current = Attempt()
            if current is None:
                continue
            current.frames += 1
            current.cpu_ms += cpu
            current.engine_cpu_ms += metered.cpu_ms - e_cpu
            current.engine_wall_ms += metered.wall_ms - e_wall
            if before in CAPTURING:
                frames.append(image.copy())
            if before == StateName.LIVENESS:
                current.liveness_frames += 1
                current.liveness_cpu_ms.append(cpu)
                current.liveness_wall_ms.append(wall)
            else:
                current.cpu_ms_capture += cpu
            if after.name == StateName.DECISION and after.decision is not None:
                body = after.decision.body or {}
                current.embeddings = int(body.get("timings_ms", {}).get("faces_embedded", 0))
                current.decision = after.decision.decision.value
                current.reason = after.decision.reason.value
                attempts.append(current)
                current = None
    finally:
        demo.close()
    return attempts, frames


def reference_per_frame(reference: Cv2Reference, frames: list[np.ndarray]) -> dict[str, float]:
    """The cv2 stack's cost per frame on the door's frames (detect + align + embed)."""
    cpu, wall = [], []
    with Cv2Threads():
        reference.process(frames[0])  # first-run allocations are not a frame's cost
        for frame in frames:
            c, w = time.process_time(), time.perf_counter()
            reference.process(frame)
            cpu.append((time.process_time() - c) * 1000)
            wall.append((time.perf_counter() - w) * 1000)
    return {"cpu_ms": statistics.fmean(cpu), "wall_ms": statistics.fmean(wall)}


def _summary(attempts: list[Attempt]) -> dict[str, Any]:
    rows = []
    for a in attempts:
        live_cpu = statistics.fmean(a.liveness_cpu_ms) if a.liveness_cpu_ms else None
        live_wall = statistics.fmean(a.liveness_wall_ms) if a.liveness_wall_ms else None
        rows.append(
            {
                "decision": f"{a.decision} ({a.reason})",
                "frames": a.frames,
                "liveness_frames": a.liveness_frames,
                "embeddings": a.embeddings,
                "cpu_ms_attempt": round(a.cpu_ms, 1),
                "cpu_ms_attempt_without_liveness": round(a.cpu_ms_capture, 1),
                "engine_cpu_ms_per_frame": round(a.engine_cpu_ms / a.frames, 2),
                "engine_wall_ms_per_frame": round(a.engine_wall_ms / a.frames, 2),
                "door_cpu_ms_per_frame": round(a.cpu_ms / a.frames, 2),
                "challenge_fps_cpu": round(1000 / live_cpu, 1) if live_cpu else None,
                "challenge_fps_wall": round(1000 / live_wall, 1) if live_wall else None,
            }
        )
    return {"attempts": rows}


def door_figures(
    cfg: KioskConfig, engine: FaceEngine, *, reference: bool, fps: float = 15.0
) -> dict[str, Any]:
    """Idle and under a one-core competing load: attempts, and the reference's ratio."""
    ref = Cv2Reference.from_pack(engine.pack, cfg.vision.detector_long_side) if reference else None
    out: dict[str, Any] = {"fps": fps, "cpu_count": os.cpu_count()}
    if ref is not None:
        out["reference_files"] = ref.files
    for label in ("idle", "load"):
        if label == "load":
            with competing_load(1):
                attempts, frames = run_attempts(cfg, engine, fps=fps)
                ref_cost = reference_per_frame(ref, frames) if ref and frames else None
        else:
            attempts, frames = run_attempts(cfg, engine, fps=fps)
            ref_cost = reference_per_frame(ref, frames) if ref and frames else None
        block = _summary(attempts)
        block["load_average"] = round(os.getloadavg()[0], 2)
        if ref_cost is not None:
            block["reference_per_frame"] = {k: round(v, 2) for k, v in ref_cost.items()}
            for row in block["attempts"]:
                row["ratio_cpu_vs_reference"] = round(
                    row["engine_cpu_ms_per_frame"] / ref_cost["cpu_ms"], 3
                )
                row["ratio_wall_vs_reference"] = round(
                    row["engine_wall_ms_per_frame"] / ref_cost["wall_ms"], 3
                )
        out[label] = block
    return out


__all__ = ["MeteredEngine", "competing_load", "door_figures", "reference_per_frame", "run_attempts"]
