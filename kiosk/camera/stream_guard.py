"""Stream guard: notice when the "camera" is a recording, a still, or a synthetic feed.

Why: a physical camera pinned by `kiosk.camera.pinning` can still be fed from elsewhere
(a driver hook, a capture card behind a USB camera shell, a replay tool on a rooted
kiosk). Those feeds have tell-tale statistics a real image sensor never shows:

* **frozen** — bit-identical consecutive frames. A sensor's read noise makes two real
  frames differ in thousands of pixels even when nothing moves.
* **replayed** — a frame identical to one seen earlier (not the previous one): a video
  loop played again.
* **impossible timing** — timestamps that go backwards, or arrive much faster than the
  camera's frame rate allows (frames pushed from a file as fast as it decodes).
* **no sensor noise** — the temporal noise in still parts of the picture (the wall
  behind the applicant) is near zero. Real sensors show 1–3 grey levels of shot/read
  noise; rendered frames and compressed video repeat static blocks exactly.

`StreamGuard.observe` is cheap (a hash and a down-sampled difference per frame) and
returns `StreamEvent`s; each becomes a ``device_event`` ledger record through
`StreamEvent.record_body`. The guard raises nothing: the caller decides (the check-in
flow should send the attempt to a proctor while a suspicion is active).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

STREAM_EVENT = "camera_stream_suspect"  # body.event of the device_event records


class StreamSuspicion(StrEnum):
    FROZEN = "frozen_stream"
    REPLAYED = "replayed_frames"
    TIMING = "impossible_timing"
    NO_NOISE = "no_sensor_noise"


@dataclass(frozen=True)
class StreamEvent:
    kind: StreamSuspicion
    frame_index: int
    detail: dict[str, Any] = field(default_factory=dict)

    def record_body(self, source: str = "") -> dict[str, Any]:
        """The ``device_event`` body for the ledger."""
        return {
            "event": STREAM_EVENT,
            "kind": self.kind.value,
            "frame": self.frame_index,
            "source": source,
            **self.detail,
        }


@dataclass
class StreamGuardConfig:
    fps: float = 30.0  # the camera's nominal rate (the pinned mode)
    frozen_frames: int = 3  # this many identical frames in a row = frozen
    history_frames: int = 9000  # remember hashes this far back (5 min at 30 fps)
    min_interval_frac: float = 0.5  # median interval below this × 1/fps = too fast
    timing_window: int = 15
    noise_window: int = 15  # frame pairs averaged for the noise estimate
    noise_floor: float = 0.35  # mean |Δ| (grey levels) of still pixels below this = no sensor
    still_threshold: int = 12  # |Δ| above this is motion, not noise
    min_still_fraction: float = 0.05  # too little still background: no estimate
    sample_step: int = 2  # noise is estimated on every 2nd pixel (speed; noise is local)
    report_every: int = 150  # re-report an ongoing suspicion at most once per this many frames


def frame_digest(image: np.ndarray) -> bytes:
    """BLAKE2b of the raw pixels and shape: equal only for bit-identical frames."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((image.shape, image.dtype.str)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def _grey(image: np.ndarray, step: int) -> np.ndarray:
    sub = image[::step, ::step]
    if sub.ndim == 3:
        # Green carries most of the luminance and its own sensor noise; no colour maths.
        sub = sub[..., 1] if sub.shape[2] >= 3 else sub[..., 0]
    return sub.astype(np.int16)


def temporal_noise(prev: np.ndarray, cur: np.ndarray, cfg: StreamGuardConfig) -> float | None:
    """Mean absolute change of the still, unsaturated pixels between two frames.

    None when too little of the picture is still (someone fills the frame) to tell.
    """
    if prev.shape != cur.shape:
        return None
    diff = np.abs(cur - prev)
    usable = (diff <= cfg.still_threshold) & (prev > 4) & (prev < 251) & (cur > 4) & (cur < 251)
    n = int(usable.sum())
    if n < cfg.min_still_fraction * diff.size:
        return None
    return float(diff[usable].mean())


class StreamGuard:
    """Feed it every frame with its capture time; it returns the suspicions it sees.

    Example::

        guard = StreamGuard(StreamGuardConfig(fps=cfg.camera.fps))
        for event in guard.observe(frame.image, frame.t):
            ledger.append("device_event", event.record_body(source=source.name))
    """

    def __init__(self, config: StreamGuardConfig | None = None) -> None:
        self.cfg = config or StreamGuardConfig()
        self.index = 0
        self._last_digest: bytes | None = None
        self._run = 1
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._last_t: float | None = None
        self._intervals: deque[float] = deque(maxlen=self.cfg.timing_window)
        self._prev_grey: np.ndarray | None = None
        self._noise: deque[float] = deque(maxlen=self.cfg.noise_window)
        self._last_report: dict[StreamSuspicion, int] = {}
        self.active: set[StreamSuspicion] = set()

    def _report(self, kind: StreamSuspicion, detail: dict[str, Any]) -> list[StreamEvent]:
        self.active.add(kind)
        last = self._last_report.get(kind)
        if last is not None and self.index - last < self.cfg.report_every:
            return []
        self._last_report[kind] = self.index
        log.warning("camera stream suspicious at frame %d: %s %s", self.index, kind.value, detail)
        return [StreamEvent(kind, self.index, detail)]

    def observe(self, image: np.ndarray, t: float) -> list[StreamEvent]:
        """Check one frame (`t` in seconds, the capture clock); return new events."""
        self.index += 1
        events: list[StreamEvent] = []
        events += self._check_identity(frame_digest(image))
        events += self._check_timing(float(t))
        events += self._check_noise(image)
        return events

    def _check_identity(self, digest: bytes) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if digest == self._last_digest:
            self._run += 1
            if self._run >= self.cfg.frozen_frames:
                events += self._report(StreamSuspicion.FROZEN, {"identical_frames": self._run})
        else:
            self._run = 1
            self.active.discard(StreamSuspicion.FROZEN)
            first_seen = self._seen.get(digest)
            if first_seen is not None:
                events += self._report(
                    StreamSuspicion.REPLAYED,
                    {"same_as_frame": first_seen, "frames_ago": self.index - first_seen},
                )
            self._seen[digest] = self.index
            self._seen.move_to_end(digest)
            while len(self._seen) > self.cfg.history_frames:
                self._seen.popitem(last=False)
        self._last_digest = digest
        return events

    def _check_timing(self, t: float) -> list[StreamEvent]:
        last, self._last_t = self._last_t, t
        if last is None:
            return []
        interval = t - last
        if interval <= 0:
            return self._report(
                StreamSuspicion.TIMING,
                {"reason": "timestamp_not_increasing", "interval_s": interval},
            )
        self._intervals.append(interval)
        if len(self._intervals) < self._intervals.maxlen:  # type: ignore[operator]
            return []
        median = float(np.median(self._intervals))
        floor = self.cfg.min_interval_frac / self.cfg.fps
        if median < floor:
            return self._report(
                StreamSuspicion.TIMING,
                {
                    "reason": "faster_than_camera",
                    "median_interval_s": round(median, 6),
                    "camera_fps": self.cfg.fps,
                },
            )
        self.active.discard(StreamSuspicion.TIMING)
        return []

    def _check_noise(self, image: np.ndarray) -> list[StreamEvent]:
        grey = _grey(image, self.cfg.sample_step)
        prev, self._prev_grey = self._prev_grey, grey
        if prev is None or self._run > 1:  # identical frames are the frozen check's business
            return []
        noise = temporal_noise(prev, grey, self.cfg)
        if noise is None:
            return []
        self._noise.append(noise)
        if len(self._noise) < self._noise.maxlen:  # type: ignore[operator]
            return []
        mean = float(np.mean(self._noise))
        if mean < self.cfg.noise_floor:
            return self._report(
                StreamSuspicion.NO_NOISE,
                {"temporal_noise": round(mean, 4), "floor": self.cfg.noise_floor},
            )
        self.active.discard(StreamSuspicion.NO_NOISE)
        return []

    @property
    def suspicious(self) -> bool:
        """True while any suspicion is ongoing (frozen, timing or noise) or was a replay."""
        return bool(self.active)


__all__ = [
    "STREAM_EVENT",
    "StreamEvent",
    "StreamGuard",
    "StreamGuardConfig",
    "StreamSuspicion",
    "frame_digest",
    "temporal_noise",
]
