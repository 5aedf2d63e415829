"""The technician's self-test: is this kiosk fit to run a door? No Qt, so it runs from
`kiosk calibrate --self-test` over SSH as well as from the calibration window.

Each check answers pass/fail/skip with one line a technician can act on; a check that
cannot run (no centre configured) is a skip, not a pass.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from kiosk.camera import FrameSource, LatestFrameGrabber
from kiosk.config import KioskConfig
from kiosk.errors import CameraUnavailable, KioskError

log = logging.getLogger(__name__)

Status = Literal["pass", "fail", "skip"]
MIN_FREE_MB = 500
EARLIEST_SANE_YEAR = 2025
CLOCK_SLACK_S = 300


@dataclass(frozen=True)
class CheckResult:
    name: str  # models | camera | centre | clock | disk (an i18n key under selftest.)
    status: Status
    detail: str


def check_models(cfg: KioskConfig) -> CheckResult:
    from kiosk.vision.packs import resolve_pack

    try:
        pack = resolve_pack(cfg)
        t0 = time.perf_counter()
        pack.verify()
    except KioskError as exc:
        return CheckResult("models", "fail", str(exc))
    ms = (time.perf_counter() - t0) * 1000
    return CheckResult("models", "pass", f"pack {pack.pack_id} verified ({ms:.0f} ms)")


def check_camera(cfg: KioskConfig, source: FrameSource | None = None) -> CheckResult:
    from kiosk.app.door import camera_source

    try:
        src = source or camera_source(cfg)
        src.open()
        try:
            frame = src.read()
        finally:
            src.close()
    except CameraUnavailable as exc:
        return CheckResult("camera", "fail", str(exc))
    if frame is None:
        return CheckResult("camera", "fail", f"{src.name} opened but delivered no frame")
    h, w = frame.shape[:2]
    return CheckResult("camera", "pass", f"{src.name}: {w}x{h}")


def check_running_camera(grabber: LatestFrameGrabber) -> CheckResult:
    """The camera check for a caller whose grabber already holds the device: its state
    is read instead of opening the camera a second time (which would fail for the wrong
    reason)."""
    status, name = grabber.status, grabber.source.name
    if status == "live":
        return CheckResult("camera", "pass", f"{name}: {grabber.fps:.1f} FPS")
    error = f" ({grabber.last_error})" if grabber.last_error else ""
    return CheckResult("camera", "fail", f"{name}: {status}{error}")


def check_centre(cfg: KioskConfig, timeout_s: float = 3.0) -> CheckResult:
    url = cfg.sync.centre_url
    if not url:
        return CheckResult("centre", "skip", "no centre configured ([sync] centre_url): offline")
    import httpx

    try:
        resp = httpx.get(url.rstrip("/") + "/health", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return CheckResult("centre", "fail", f"{url} unreachable: {exc}")
    if resp.status_code != 200:
        return CheckResult("centre", "fail", f"{url}/health answered HTTP {resp.status_code}")
    return CheckResult("centre", "pass", f"{url} reachable")


def check_clock(cfg: KioskConfig, now: datetime | None = None) -> CheckResult:
    """Signed records carry timestamps, so a clock reset to 1970 or behind the files this
    kiosk already wrote would put records out of order at the centre."""
    now = now or datetime.now(UTC)
    if now.year < EARLIEST_SANE_YEAR:
        return CheckResult("clock", "fail", f"system time {now:%Y-%m-%d %H:%M} UTC is not set")
    paths = [cfg.ledger_path, *Path(cfg.paths.models_dir).glob("*")]
    newest = max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)
    if newest and now.timestamp() < newest - CLOCK_SLACK_S:
        seen = datetime.fromtimestamp(newest, UTC)
        return CheckResult(
            "clock", "fail", f"system time is before files written at {seen:%Y-%m-%d %H:%M} UTC"
        )
    return CheckResult("clock", "pass", f"{now:%Y-%m-%d %H:%M:%S} UTC")


def check_disk(cfg: KioskConfig, min_free_mb: int = MIN_FREE_MB) -> CheckResult:
    path = cfg.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    free_mb = shutil.disk_usage(path).free / 2**20
    status: Status = "pass" if free_mb >= min_free_mb else "fail"
    return CheckResult("disk", status, f"{free_mb:,.0f} MB free under {path}")


def run_self_test(
    cfg: KioskConfig,
    *,
    source: FrameSource | None = None,
    camera_check: Callable[[], CheckResult] | None = None,
) -> list[CheckResult]:
    """All checks in order. `camera_check` replaces opening the camera, for a caller whose
    grabber already holds the device (see `check_running_camera`)."""
    results = [
        check_models(cfg),
        camera_check() if camera_check is not None else check_camera(cfg, source),
        check_centre(cfg),
        check_clock(cfg),
        check_disk(cfg),
    ]
    for r in results:
        log.info("self-test %s: %s (%s)", r.name, r.status, r.detail)
    return results
