"""`kiosk run` does not open for business on a tampered or exposed kiosk: the demo centre
key, a data folder other accounts can read, a ledger behind its witness. Each refusal is
one named sentence (the error code is what the UI shows)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.errors import FilePermissionsLoose, LedgerRolledBack
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore


@pytest.fixture
def demo_room(monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["roster", "make-demo", "--pin-demo-key", "--import"]) == 0
    monkeypatch.setenv("KIOSK_CHECKIN_CENTRE_ID", "DEMO-CENTRE")
    monkeypatch.setenv("KIOSK_CHECKIN_ROOM", "DEMO-101")
    monkeypatch.setenv("KIOSK_CAMERA_SOURCE", "0")


def test_kiosk_run_refuses_the_demo_centre_key(demo_room: None, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "error [demo_centre_key]:" in err
    assert "is the DEMO centre key" in err


def test_a_loosened_file_mode_refuses_the_door(demo_room: None, engine) -> None:  # type: ignore[no-untyped-def]
    from kiosk.app.door import build_door

    cfg = load_config()
    os.chmod(cfg.data_dir / "rosters.sqlite", 0o644)
    with pytest.raises(FilePermissionsLoose, match=r"rosters.sqlite \(644\).*chmod -R go-rwx"):
        build_door(cfg, engine=engine)


def test_a_ledger_behind_its_witness_refuses_the_door(demo_room: None, engine) -> None:  # type: ignore[no-untyped-def]
    from kiosk.app.door import build_door

    cfg = load_config()
    with LedgerStore(cfg.ledger_path, DeviceKeys.for_config(cfg)) as ledger:
        ledger.append("device_event", {"event": "about_to_vanish"})
        last = ledger.head().seq
    with sqlite3.connect(cfg.ledger_path) as conn:
        conn.execute("DELETE FROM records WHERE seq = ?", (last,))
    with pytest.raises(
        LedgerRolledBack, match=f"witness seq {last}, ledger ends at {last - 1}"
    ) as info:
        build_door(cfg, engine=engine)
    assert info.value.code == "ledger_rolled_back"
