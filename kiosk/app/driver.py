"""The one place camera frames enter the check-in flow; no Qt, so the windowed app, the
headless demo and the latency benchmark drive the flow the same way.

While the door is idle a frame is offered to the flow as a possible booking QR; in every
other state it goes to `flow.on_frame` with the analysis already made (the live view
needs it anyway for the face guide, so the engine runs once per frame; the flow embeds
the few frames its decision uses). `CheckinFlow`
guards its own methods with a lock, so taps from the UI thread need no help here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from kiosk.camera import GrabbedFrame
from kiosk.camera.stream_guard import StreamGuard
from kiosk.checkin.flow import CheckinFlow, StateName
from kiosk.vision.pipeline import FaceEngine, FrameAnalysis

log = logging.getLogger(__name__)


@dataclass
class FrameResult:
    """One analysed frame, for the live view, overlays and latency figures."""

    seq: int
    frame: np.ndarray
    analysis: FrameAnalysis
    t_grabbed: float  # time.monotonic() when the camera delivered it
    timings_ms: dict[str, float] = field(default_factory=dict)  # stages, flow, total


class DoorDriver:
    """Runs the face engine on a frame and hands frame and analysis to the flow (if any:
    calibration mode has none)."""

    def __init__(
        self,
        engine: FaceEngine,
        flow: CheckinFlow | None = None,
        *,
        stream_guard: StreamGuard | None = None,
        source_name: str = "",
    ) -> None:
        self.engine = engine
        self.flow = flow
        # Only the production camera is guarded: a file or folder source is a replay by
        # definition (demo, tests), and would be flagged on every loop.
        self.stream_guard = stream_guard
        self.source_name = source_name

    def process(self, grabbed: GrabbedFrame) -> FrameResult:
        t0 = time.perf_counter()
        if self.stream_guard is not None:
            events = self.stream_guard.observe(grabbed.image, grabbed.t)
            if events and self.flow is not None:
                self.flow.report_stream_events([e.record_body(self.source_name) for e in events])
        # With a flow, frames are detected, aligned and assessed only: the flow embeds the
        # few it decides with (see CheckinFlow._capture). Calibration mode shows live
        # similarity, so there every frame's main face is embedded.
        analysis = self.engine.analyze(
            grabbed.image, embed="none" if self.flow is not None else "primary"
        )
        timings = dict(analysis.timings_ms)
        if self.flow is not None:
            t1 = time.perf_counter()
            if self.flow.state.name == StateName.IDLE:
                self.flow.claim_from_frame(grabbed.image)
                timings["qr"] = (time.perf_counter() - t1) * 1000
            else:
                self.flow.on_frame(grabbed.image, analysis)
                timings["flow"] = (time.perf_counter() - t1) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return FrameResult(grabbed.seq, grabbed.image, analysis, grabbed.t, timings)
