"""The production door (`kiosk run`) only runs on the pinned physical camera: an unpinned
or different camera is refused before the door opens, and the refusal is in the ledger."""

from __future__ import annotations

import pytest

from kiosk.camera.pinning import CameraNotPinned
from kiosk.cli import main
from kiosk.config import load_config
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore


def test_unpinned_camera_refuses_the_door_and_is_recorded(
    monkeypatch: pytest.MonkeyPatch, engine
) -> None:
    from kiosk.app.door import build_door

    assert main(["roster", "make-demo", "--pin-demo-key", "--import"]) == 0
    monkeypatch.setenv("KIOSK_CHECKIN_CENTRE_ID", "DEMO-CENTRE")
    monkeypatch.setenv("KIOSK_CHECKIN_ROOM", "DEMO-101")
    monkeypatch.setenv("KIOSK_CAMERA_SOURCE", "0")
    cfg = load_config()
    with pytest.raises(CameraNotPinned):
        build_door(cfg, engine=engine)
    with LedgerStore(cfg.ledger_path, DeviceKeys.for_config(cfg)) as ledger:
        events = [e.record.body for e in ledger.iter_envelopes() if e.record.type == "device_event"]
        assert [e["event"] for e in events] == ["camera_refused"]
        assert events[0]["code"] == CameraNotPinned.code
        assert ledger.verify() == len(list(ledger.iter_envelopes()))  # roster_loaded + event
