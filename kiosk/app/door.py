"""Everything one kiosk door runs on, bundled so the window, the headless demo and the
tests are handed the same parts: engine, flow, proctor directory, camera grabber and
the centre connection. No Qt here.

Assembly opens several stores (template vault, rosters, ledger, proctor directory) and
may start the sync client before a later step (the roster lookup, the camera pin check)
refuses to go on. Every part is entered into one `ExitStack` as it is opened, so a
refusal at any step closes exactly what was opened before it, in reverse order; on
success the stack moves into the `Door`, whose `close()` unwinds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.app.door_status import centre_state_of
from kiosk.camera import FrameSource, LatestFrameGrabber, open_source
from kiosk.checkin.flow import CheckinFlow
from kiosk.checkin.proctor import ProctorDirectory, open_proctor_directory
from kiosk.config import KioskConfig
from kiosk.errors import ConfigError, KeyStoreError, RosterError
from kiosk.owner_only import check_owner_only_tree
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)


@dataclass
class Door:
    engine: FaceEngine
    flow: CheckinFlow
    proctors: ProctorDirectory
    grabber: LatestFrameGrabber
    sync: Any | None = None  # kiosk.sync.client.SyncClient when a centre is configured
    stream_guard: Any | None = None  # kiosk.camera.stream_guard.StreamGuard on a real camera
    # The stores and the sync client, closed last-opened-first by `close()`.
    resources: ExitStack = field(default_factory=ExitStack)
    centre_state: Callable[[], str] = field(init=False)

    def __post_init__(self) -> None:
        self.centre_state = centre_state_of(self.sync)

    def close(self) -> None:
        """Stop the camera, then sync and the stores (each is closed even if one fails)."""
        self.grabber.stop()
        try:
            self.resources.close()
        except Exception:
            log.exception("closing a door part failed")


def build_door(
    cfg: KioskConfig,
    *,
    engine: FaceEngine | None = None,
    source: FrameSource | None = None,
) -> Door:
    """The production door from the config: the roster accepted for ``[checkin] room``,
    the device ledger, real liveness, the configured camera and (if set) the centre."""
    from kiosk.checkin.calibration_floor import check_recorded
    from kiosk.checkin.matcher import Matcher
    from kiosk.checkin.roster_store import RosterStore
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.ledger.vault import TemplateVault, default_vault_path
    from kiosk.vision.liveness import LivenessChecker

    room, centre = cfg.checkin.room, cfg.checkin.centre_id
    if not room or not centre:
        raise ConfigError(
            "set [checkin] centre_id and room (or KIOSK_CHECKIN_CENTRE_ID / KIOSK_CHECKIN_ROOM) "
            "so the kiosk knows which roster to load; try `kiosk demo` to see it without one"
        )
    # Refusals that need no camera or model come first: loosened file modes, then (below)
    # a ledger that no longer holds its witnessed head.
    check_owner_only_tree(cfg.data_dir)
    engine = engine or FaceEngine.from_config(cfg)
    with ExitStack() as stack:
        keys = DeviceKeys.for_config(cfg)
        vault = stack.enter_context(
            closing(TemplateVault(default_vault_path(cfg.data_dir), keys.template_key()))
        )
        rosters = stack.enter_context(closing(RosterStore(cfg.data_dir / "rosters.sqlite", vault)))
        roster = rosters.load(centre, room)
        if roster is None:
            raise RosterError(
                f"no roster accepted for {centre}/{room}: run `kiosk sync pull` or "
                "`kiosk roster import FILE` first"
            )
        ledger = stack.enter_context(closing(LedgerStore(cfg.ledger_path, keys)))
        if ledger.head_problem is not None:
            # Not open for business: every record would reuse a seq already witnessed.
            raise ledger.head_problem
        proctors = stack.enter_context(closing(open_proctor_directory(cfg, keys)))
        if not proctors.list():
            log.warning("no proctor accounts in %s: nobody can open the session", proctors.path)
        matcher = Matcher.from_config(cfg, engine.pack)
        if cfg.match.calibration_file:
            # A site threshold is used only as the technician confirmed it (signed record).
            check_recorded(
                matcher.calibration.file_sha256,
                (e.record.body for e in ledger.iter_type("calibration")),
                matcher.calibration.source,
            )
        flow = CheckinFlow(
            engine,
            roster,
            ledger,
            matcher,
            LivenessChecker.from_config(cfg, engine),
            cfg,
            room=room,
        )
        sync = None
        if cfg.sync.centre_url:
            from kiosk.sync.client import SyncClient

            sync = stack.enter_context(closing(SyncClient.from_config(cfg, ledger, keys)))
            sync.start()
        guard = None
        if source is None:
            guard = _check_pinned_camera(cfg, ledger)
            source = camera_source(cfg)
        door = Door(
            engine, flow, proctors, LatestFrameGrabber(source), sync=sync, stream_guard=guard
        )
        # Built: from here on the door owns its parts and closes them itself.
        door.resources = stack.pop_all()
    return door


def _check_pinned_camera(cfg: KioskConfig, ledger: Any) -> Any:
    """The production camera must be the pinned physical one; a refusal is a signed
    ``device_event`` before it is raised. Returns the `StreamGuard` that watches its stream
    for freezes, replays and injected video for as long as the door runs."""
    from kiosk.camera.pinning import check_pin, mismatch_event_body
    from kiosk.camera.stream_guard import StreamGuard, StreamGuardConfig
    from kiosk.errors import CameraUnavailable

    try:
        check_pin(cfg.camera.source, cfg.data_dir, ledger=ledger)
    except CameraUnavailable as exc:
        ledger.append("device_event", mismatch_event_body(exc, cfg.camera.source))
        raise
    return StreamGuard(StreamGuardConfig(fps=float(cfg.camera.fps)))


def refuse_demo_centre_key(data_dir: Path) -> None:
    """`kiosk run` never trusts the demo centre key: its private half is in the repository,
    so anyone could sign a roster this door would accept."""
    from kiosk.config import BUNDLED_ASSETS
    from kiosk.ledger.keys import keys_dir

    pinned = keys_dir(data_dir) / "centre_key.pub"
    demo = BUNDLED_ASSETS / "demo" / "demo-centre-key.pub"
    if not (pinned.is_file() and demo.is_file()):
        return
    if pinned.read_text(encoding="ascii").strip() == demo.read_text(encoding="ascii").strip():
        raise KeyStoreError(
            f"{pinned} is the DEMO centre key (its private half is public in the "
            "repository): the door refuses it; pin the real centre key "
            "(`kiosk keys pin-centre KEY` after removing this file)",
            code="demo_centre_key",
        )


def camera_source(cfg: KioskConfig, *, loop: bool = False) -> FrameSource:
    """The configured camera (`[camera]`) as a frame source, not yet opened."""
    c = cfg.camera
    return open_source(c.source, width=c.width, height=c.height, fps=c.fps, loop=loop)
