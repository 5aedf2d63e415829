"""Clock integrity: the kiosk's wall clock is what records carry, so notice when it moves.

Why: every record's ``ts`` comes from the kiosk's wall clock. Someone who sets it back
can make a late arrival look on time ("checked in 08:55" for a 09:00 exam when it was
09:20) or make an override appear to fall in another proctor's shift. Two checks:

* **jump** — the wall clock is compared with a clock nobody can set (``CLOCK_BOOTTIME``,
  which also counts suspend, so a laptop lid is not a jump). When ``wall − boottime``
  changes by more than the tolerance between two polls, the wall clock was stepped; a
  ``device_event`` ``{"event": "clock_jump", ...}`` records by how much and in which
  direction, signed and chained like every record.
* **centre skew** — each answer from the centre carries an HTTP ``Date`` header; a kiosk
  clock further from it than the tolerance (allowing for the round trip and the header's
  one-second resolution) is a ``device_event`` ``{"event": "clock_skew", ...}``. The
  centre also refuses records from its future (``centre/crud/ingest.py``).

Both detectors take their clocks as arguments, so tests drive them without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from kiosk.ledger.record_ledger import RecordLedger as _Ledger
from kiosk.protocol.bodies import CLOCK_JUMP_EVENT, CLOCK_SKEW_EVENT, ClockJumpBody, ClockSkewBody
from kiosk.protocol.canonical import format_ts

log = logging.getLogger(__name__)


def boottime() -> float:
    """Seconds on a clock that only moves forward and keeps counting through suspend."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


def _ts(epoch: float) -> str:
    return format_ts(datetime.fromtimestamp(epoch, UTC))


@dataclass(frozen=True)
class ClockJump:
    """The wall clock moved `jump_s` seconds more (or less) than real time did."""

    jump_s: float
    wall_before: float
    wall_after: float
    elapsed_s: float  # real time between the two polls

    def record_body(self) -> dict[str, Any]:
        return ClockJumpBody(
            event=CLOCK_JUMP_EVENT,
            jump_s=round(self.jump_s, 3),
            direction="forward" if self.jump_s > 0 else "backward",
            wall_before=_ts(self.wall_before),
            wall_after=_ts(self.wall_after),
            elapsed_s=round(self.elapsed_s, 3),
        ).to_dict()


class ClockJumpDetector:
    """Poll it (each sync cycle, each door tick); it returns a `ClockJump` when the wall
    clock was stepped by more than `tolerance_s` since the previous poll.

    Slow NTP slewing (well under the tolerance per poll) is not a jump; the baseline
    follows it.
    """

    def __init__(
        self,
        tolerance_s: float = 2.0,
        *,
        wall: Callable[[], float] = time.time,
        steady: Callable[[], float] = boottime,
    ) -> None:
        self.tolerance_s = tolerance_s
        self._wall = wall
        self._steady = steady
        self._last_wall = wall()
        self._last_steady = steady()

    def poll(self) -> ClockJump | None:
        wall, steady = self._wall(), self._steady()
        elapsed = steady - self._last_steady
        jump = (wall - self._last_wall) - elapsed
        before = self._last_wall
        self._last_wall, self._last_steady = wall, steady
        if abs(jump) <= self.tolerance_s:
            return None
        log.warning("wall clock jumped %+.3f s (real time elapsed %.3f s)", jump, elapsed)
        return ClockJump(jump_s=jump, wall_before=before, wall_after=wall, elapsed_s=elapsed)


@dataclass(frozen=True)
class CentreSkew:
    """The kiosk clock is `skew_s` seconds ahead of (positive) or behind the centre."""

    skew_s: float
    uncertainty_s: float
    centre_date: str
    kiosk_time: float

    def record_body(self) -> dict[str, Any]:
        return ClockSkewBody(
            event=CLOCK_SKEW_EVENT,
            skew_s=round(self.skew_s, 3),
            uncertainty_s=round(self.uncertainty_s, 3),
            centre_date=self.centre_date,
            kiosk_ts=_ts(self.kiosk_time),
        ).to_dict()


def centre_skew(
    date_header: str | None,
    *,
    sent_wall: float,
    received_wall: float,
    tolerance_s: float = 60.0,
) -> CentreSkew | None:
    """Compare the kiosk clock with the centre's ``Date`` header of one response.

    The centre stamped the header somewhere between sending and receiving, so the kiosk
    time taken is the midpoint and the uncertainty is half the round trip plus the
    header's one-second resolution. Returns a `CentreSkew` only when the skew is beyond
    `tolerance_s` plus that uncertainty; a missing or unparsable header returns None.
    """
    if not date_header:
        return None
    try:
        centre = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        log.info("centre sent an unparsable Date header %r", date_header)
        return None
    if centre.tzinfo is None:
        centre = centre.replace(tzinfo=UTC)
    kiosk = (sent_wall + received_wall) / 2
    uncertainty = max(0.0, received_wall - sent_wall) / 2 + 1.0
    skew = kiosk - centre.timestamp()
    if abs(skew) <= tolerance_s + uncertainty:
        return None
    return CentreSkew(skew, uncertainty, date_header, kiosk)


class ClockGuard:
    """Writes clock events into the ledger; what the sync client and the door call.

    `poll()` checks for a jump; `observe_centre(date, sent, received)` checks a centre
    response. A skew is recorded when first seen and then at most every
    `skew_report_every_s` (a kiosk that stays skewed must not flood its own ledger).
    """

    def __init__(
        self,
        ledger: _Ledger,
        *,
        jump_tolerance_s: float = 2.0,
        skew_tolerance_s: float = 60.0,
        skew_report_every_s: float = 3600.0,
        wall: Callable[[], float] = time.time,
        steady: Callable[[], float] = boottime,
    ) -> None:
        self.ledger = ledger
        self.detector = ClockJumpDetector(jump_tolerance_s, wall=wall, steady=steady)
        self.skew_tolerance_s = skew_tolerance_s
        self.skew_report_every_s = skew_report_every_s
        self._steady = steady
        self._last_skew_report: float | None = None

    def poll(self) -> ClockJump | None:
        jump = self.detector.poll()
        if jump is not None:
            self.ledger.append("device_event", jump.record_body())
        return jump

    def observe_centre(
        self, date_header: str | None, *, sent_wall: float, received_wall: float
    ) -> CentreSkew | None:
        skew = centre_skew(
            date_header,
            sent_wall=sent_wall,
            received_wall=received_wall,
            tolerance_s=self.skew_tolerance_s,
        )
        if skew is None:
            self._last_skew_report = None  # back in tolerance: the next skew is news again
            return None
        now = self._steady()
        if self._last_skew_report is None or now - self._last_skew_report >= (
            self.skew_report_every_s
        ):
            self._last_skew_report = now
            log.warning("kiosk clock is %+.1f s off the centre's", skew.skew_s)
            self.ledger.append("device_event", skew.record_body())
        return skew


__all__ = [
    "CLOCK_JUMP_EVENT",
    "CLOCK_SKEW_EVENT",
    "CentreSkew",
    "ClockGuard",
    "ClockJump",
    "ClockJumpDetector",
    "boottime",
    "centre_skew",
]
