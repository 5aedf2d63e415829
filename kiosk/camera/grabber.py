"""A background thread that keeps only the newest camera frame.

The face engine is slower than the camera, so a queue would grow and the applicant would
see their face seconds late. The grabber overwrites its single slot instead; whoever reads
next gets the newest frame and everything in between is dropped (and counted).

It also owns camera loss: a read or open that fails puts it in ``lost`` and it retries
with a capped backoff until the camera returns, so an unplugged cable ends in a
"camera unavailable" screen that clears by itself, never in a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from kiosk.camera.sources import FrameSource
from kiosk.errors import CameraUnavailable

log = logging.getLogger(__name__)


class CameraStatus(StrEnum):
    STARTING = "starting"
    LIVE = "live"
    LOST = "lost"  # was or could not be opened; reconnecting
    ENDED = "ended"  # a finite file source reached its end
    STOPPED = "stopped"


@dataclass(frozen=True)
class GrabbedFrame:
    image: np.ndarray
    seq: int  # 1, 2, ... per grabber; a gap means frames were dropped
    t: float  # time.monotonic() when grabbed


StatusListener = Callable[[CameraStatus, str | None], None]


class LatestFrameGrabber:
    """Reads `source` on its own thread; `latest()` / `wait_next()` never block the camera."""

    def __init__(
        self,
        source: FrameSource,
        *,
        retry_s: float = 0.5,
        max_retry_s: float = 3.0,
    ) -> None:
        self.source = source
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._cond = threading.Condition()
        self._latest: GrabbedFrame | None = None
        self._consumed_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = CameraStatus.STARTING
        self._error: str | None = None
        self._listeners: list[StatusListener] = []
        self.frames_grabbed = 0
        self.frames_dropped = 0
        self._fps_window: list[float] = []

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> LatestFrameGrabber:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"grabber[{self.source.name}]", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._set_status(CameraStatus.STOPPED, None)

    def __enter__(self) -> LatestFrameGrabber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- status ----------------------------------------------------------------------
    @property
    def status(self) -> CameraStatus:
        return self._status

    @property
    def last_error(self) -> str | None:
        return self._error

    @property
    def fps(self) -> float:
        """Frames per second actually delivered over the last ~second."""
        window = self._fps_window
        if len(window) < 2 or window[-1] == window[0]:
            return 0.0
        return (len(window) - 1) / (window[-1] - window[0])

    def add_status_listener(self, listener: StatusListener) -> None:
        """`listener(status, error)` runs on the grabber thread at every status change."""
        self._listeners.append(listener)

    def _set_status(self, status: CameraStatus, error: str | None) -> None:
        if status == self._status and error == self._error:
            return
        self._status, self._error = status, error
        if status == CameraStatus.LOST:
            log.warning("camera %s lost: %s", self.source.name, error)
        else:
            log.info("camera %s %s", self.source.name, status)
        with self._cond:
            self._cond.notify_all()
        for listener in list(self._listeners):
            try:
                listener(status, error)
            except Exception:  # a broken listener must not kill the camera thread
                log.exception("camera status listener failed")

    # --- consumers -------------------------------------------------------------------
    def latest(self) -> GrabbedFrame | None:
        """The newest frame (possibly one already seen), or None before the first."""
        return self._latest

    def wait_next(self, after_seq: int, timeout: float) -> GrabbedFrame | None:
        """The newest frame newer than `after_seq`, waiting up to `timeout` seconds; None on
        timeout, on stop, or when a finite source has ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and frame.seq > after_seq:
                    if self._consumed_seq and frame.seq > self._consumed_seq + 1:
                        self.frames_dropped += frame.seq - self._consumed_seq - 1
                    self._consumed_seq = frame.seq
                    return frame
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set() or self._status == CameraStatus.ENDED:
                    return None
                self._cond.wait(left)

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until `condition()` holds, re-checking at every new frame and status
        change; False if `timeout` seconds pass first (so callers and tests wait for an
        event, not for a guessed amount of time)."""
        with self._cond:
            return self._cond.wait_for(condition, timeout)

    # --- the thread ------------------------------------------------------------------
    def _publish(self, image: np.ndarray) -> None:
        now = time.monotonic()
        with self._cond:
            self.frames_grabbed += 1
            self._latest = GrabbedFrame(image, self.frames_grabbed, now)
            self._cond.notify_all()
        self._fps_window.append(now)
        while len(self._fps_window) > 2 and now - self._fps_window[0] > 1.0:
            self._fps_window.pop(0)

    def _run(self) -> None:
        backoff = self.retry_s
        opened = False
        next_due = time.monotonic()
        while not self._stop.is_set():
            if not opened:
                try:
                    self.source.open()
                    opened, backoff = True, self.retry_s
                    next_due = time.monotonic()
                except (CameraUnavailable, cv2.error, OSError) as exc:
                    self._set_status(CameraStatus.LOST, str(exc))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_retry_s)
                    continue
            try:
                image = self.source.read()
            except (CameraUnavailable, cv2.error, OSError) as exc:
                self._close_quietly()
                opened = False
                self._set_status(CameraStatus.LOST, str(exc))
                self._stop.wait(self.retry_s)
                continue
            if image is None:
                self._set_status(CameraStatus.ENDED, None)
                break
            self._publish(image)
            self._set_status(CameraStatus.LIVE, None)
            pace = self.source.pace_fps
            if pace:
                # Keep the replay rate steady, but never burst to catch up after a stall.
                next_due = max(next_due + 1.0 / pace, time.monotonic())
                self._stop.wait(next_due - time.monotonic())
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self.source.close()
        except Exception:
            log.exception("closing %s failed", self.source.name)
