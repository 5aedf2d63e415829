"""Everything one kiosk door runs on, bundled so the window, the headless demo and the
tests are handed the same parts: engine, flow, proctor directory, camera grabber and
the centre connection. No Qt here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.camera import LatestFrameGrabber
from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.proctor import ProctorDirectory
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)


def centre_state_of(sync: Any | None) -> Callable[[], str]:
    """How the proctor panel words the centre link: no sync client means the kiosk is
    configured offline; otherwise the client's last push decides (it retries by itself)."""

    def state() -> str:
        if sync is None:
            return "not_configured"
        if getattr(sync, "last_error", None) is None and getattr(sync, "last_success_at", None):
            return "online"
        return "offline"

    return state


@dataclass
class Door:
    engine: FaceEngine
    flow: CheckinFlow
    proctors: ProctorDirectory
    grabber: LatestFrameGrabber
    sync: Any | None = None  # kiosk.sync.client.SyncClient when a centre is configured
    centre_state: Callable[[], str] = field(init=False)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.centre_state = centre_state_of(self.sync)

    def close(self) -> None:
        """Stop the camera and sync, then close stores (ledger last: it is the record)."""
        self.grabber.stop()
        if self.sync is not None:
            self.sync.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("closing a door part failed")
