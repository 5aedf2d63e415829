"""Door assembly (`kiosk.app.door.build_door`) on real stores: whatever step refuses to go
on, every store opened before it is closed again, last opened first; a built door closes
all of them, even when one of them fails to close."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiosk.app.door import build_door
from kiosk.camera import ImageFolderSource
from kiosk.camera.pinning import CameraNotPinned
from kiosk.checkin.proctor import ProctorDirectory
from kiosk.checkin.roster_store import RosterStore
from kiosk.cli import main
from kiosk.config import KioskConfig, load_config
from kiosk.demo.roster import DEMO_DIR
from kiosk.errors import RosterError
from kiosk.ledger.store import LedgerStore
from kiosk.ledger.vault import TemplateVault

STORES = (TemplateVault, RosterStore, LedgerStore, ProctorDirectory)
# build_door opens them in this order, so they close in the reverse one.
ALL_CLOSED = ["ProctorDirectory", "LedgerStore", "RosterStore", "TemplateVault"]


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The class names of the stores closed during the test, in order (each store's own
    close still runs, so nothing is left open behind the test's back)."""
    seen: list[str] = []
    for cls in STORES:

        def close(self, _original=cls.close, _name=cls.__name__) -> None:
            seen.append(_name)
            _original(self)

        monkeypatch.setattr(cls, "close", close)
    return seen


def _door_config(monkeypatch: pytest.MonkeyPatch, *, roster: bool = True) -> KioskConfig:
    if roster:
        assert main(["roster", "make-demo", "--pin-demo-key", "--import"]) == 0
    monkeypatch.setenv("KIOSK_CHECKIN_CENTRE_ID", "DEMO-CENTRE")
    monkeypatch.setenv("KIOSK_CHECKIN_ROOM", "DEMO-101")
    monkeypatch.setenv("KIOSK_CAMERA_SOURCE", "0")
    return load_config()


def _folder_source() -> ImageFolderSource:
    return ImageFolderSource(Path(DEMO_DIR) / "frames" / "empty")


def test_the_last_step_refusing_closes_every_store_opened_before_it(
    monkeypatch: pytest.MonkeyPatch, closed: list[str], engine
) -> None:
    # The camera pin check is the last step, after all four stores are open; an unpinned
    # camera makes it raise.
    cfg = _door_config(monkeypatch)
    closed.clear()  # `roster import` opened and closed stores of its own
    with pytest.raises(CameraNotPinned):
        build_door(cfg, engine=engine)
    assert closed == ALL_CLOSED


def test_a_missing_roster_closes_the_stores_opened_to_look_for_it(
    monkeypatch: pytest.MonkeyPatch, closed: list[str], engine
) -> None:
    cfg = _door_config(monkeypatch, roster=False)
    with pytest.raises(RosterError, match="no roster accepted for DEMO-CENTRE/DEMO-101"):
        build_door(cfg, engine=engine)
    assert closed == ["RosterStore", "TemplateVault"]


def test_a_built_door_closes_every_store_even_when_one_close_fails(
    monkeypatch: pytest.MonkeyPatch,
    closed: list[str],
    engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = _door_config(monkeypatch)
    door = build_door(cfg, engine=engine, source=_folder_source())
    closed.clear()
    assert door.sync is None and door.centre_state() == "not_configured"
    failing_close = LedgerStore.close

    def close_then_fail(self) -> None:
        failing_close(self)
        raise OSError("disk gone")

    monkeypatch.setattr(LedgerStore, "close", close_then_fail)
    with caplog.at_level(logging.ERROR, logger="kiosk.app.door"):
        door.close()
    assert closed == ALL_CLOSED
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["closing a door part failed"]
    door.close()  # a second close has nothing left to close
    assert closed == ALL_CLOSED


def test_the_self_test_reads_a_running_camera_instead_of_opening_it_again() -> None:
    from kiosk.app.selftest import CheckResult, check_running_camera
    from kiosk.camera import LatestFrameGrabber

    grabber = LatestFrameGrabber(ImageFolderSource(Path(DEMO_DIR) / "frames" / "empty", loop=True))
    name = grabber.source.name
    assert check_running_camera(grabber) == CheckResult("camera", "fail", f"{name}: starting")
    with grabber:
        assert grabber.wait_next(0, timeout=10.0) is not None
        result = check_running_camera(grabber)
    assert (result.name, result.status) == ("camera", "pass")
    assert result.detail.startswith(f"{name}: ") and result.detail.endswith(" FPS")
    assert check_running_camera(grabber) == CheckResult("camera", "fail", f"{name}: stopped")
