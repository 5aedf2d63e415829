"""The QThread that runs the face engine and the flow off the UI thread.

Frames are dropped, not queued: the worker asks the grabber for the newest frame only
when it has finished the previous one, so a slow engine lowers the analysis rate but
never adds delay between the applicant and the screen.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QThread, Signal

from kiosk.app.driver import DoorDriver
from kiosk.camera import LatestFrameGrabber
from kiosk.errors import KioskError

log = logging.getLogger(__name__)


class AnalysisWorker(QThread):
    """Emits `analyzed(FrameResult)` for every frame it managed to look at."""

    analyzed = Signal(object)
    failed = Signal(str)

    def __init__(self, grabber: LatestFrameGrabber, driver: DoorDriver, parent=None) -> None:
        super().__init__(parent)
        self.grabber = grabber
        self.driver = driver
        self.frames_analyzed = 0

    def run(self) -> None:
        last_seq = 0
        while not self.isInterruptionRequested():
            grabbed = self.grabber.wait_next(last_seq, timeout=0.1)
            if grabbed is None:
                continue
            last_seq = grabbed.seq
            try:
                result = self.driver.process(grabbed)
            except KioskError as exc:
                log.warning("frame %d not analysed: %s", grabbed.seq, exc)
                self.failed.emit(str(exc))
                continue
            except Exception as exc:  # one bad frame must not stop the door
                log.exception("frame %d crashed the pipeline", grabbed.seq)
                self.failed.emit(f"{type(exc).__name__}: {exc}")
                continue
            self.frames_analyzed += 1
            self.analyzed.emit(result)

    def stop(self, timeout_ms: int = 3000) -> None:
        self.requestInterruption()
        if not self.wait(timeout_ms):
            log.warning("analysis worker did not stop within %d ms", timeout_ms)
