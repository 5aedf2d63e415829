"""The technician's commands: `kiosk keys seal` and `kiosk camera pin|show|check`."""

from __future__ import annotations

import os

import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.ledger.keys import DeviceKeys, KeyPolicy, keys_dir
from kiosk.ledger.keyseal import Protection
from kiosk.ledger.store import LedgerStore


def test_keys_seal_migrates_a_demo_store_and_changes_the_passphrase(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_config().data_dir
    demo = DeviceKeys.load_or_create(data, KeyPolicy.plaintext_for_demo())
    pub = demo.public_key_b64()
    monkeypatch.setenv("KIOSK_KEYS_PROTECTION", "plaintext-dev")
    monkeypatch.setenv("KIOSK_KEY_NEW_PASSPHRASE", "a brand new passphrase")
    assert main(["keys", "seal", "--to", "passphrase"]) == 0
    assert "plaintext -> passphrase" in capsys.readouterr().out
    assert b"PRIVATE KEY" not in (keys_dir(data) / "device_key.pem").read_bytes()

    monkeypatch.delenv("KIOSK_KEYS_PROTECTION")
    monkeypatch.setenv("KIOSK_KEY_PASSPHRASE", "a brand new passphrase")
    monkeypatch.setenv("KIOSK_KEY_NEW_PASSPHRASE", "and another one again")
    assert main(["keys", "seal"]) == 0
    monkeypatch.setenv("KIOSK_KEY_PASSPHRASE", "and another one again")
    assert main(["keys", "show"]) == 0
    out = capsys.readouterr().out
    assert pub in out and "protection passphrase" in out
    monkeypatch.setenv("KIOSK_KEY_PASSPHRASE", "a brand new passphrase")  # the old one
    assert main(["keys", "show"]) == 2
    assert "wrong key passphrase" in capsys.readouterr().err


def test_keys_seal_refuses_a_short_passphrase(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init"]) == 0
    monkeypatch.setenv("KIOSK_KEY_NEW_PASSPHRASE", "short")
    assert main(["keys", "seal"]) == 2
    assert "at least 8" in capsys.readouterr().err


def test_keys_init_without_any_protection_fails_closed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KIOSK_KEY_PASSPHRASE")
    assert main(["keys", "init"]) == 2
    assert "refusing to keep device keys in plain text" in capsys.readouterr().err
    assert not (keys_dir(load_config().data_dir) / "device_key.pem").exists()


def test_camera_check_without_a_pin_is_refused_and_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "init"]) == 0
    assert main(["camera", "check", "--source", "0"]) == 2
    assert "camera_not_pinned" in capsys.readouterr().err
    cfg = load_config()
    with LedgerStore(cfg.ledger_path, DeviceKeys.load(cfg.data_dir)) as ledger:
        (env,) = list(ledger.iter_envelopes())
        assert env.record.type == "device_event"
        assert env.record.body["event"] == "camera_refused"
        assert env.record.body["code"] == "camera_not_pinned"


def test_camera_check_refuses_a_file_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init"]) == 0
    assert main(["camera", "show", "--source", "/tmp/replay.mp4"]) == 0
    assert "not a camera device" in capsys.readouterr().out
    assert main(["camera", "pin", "--technician", "t", "--source", "/tmp/replay.mp4"]) == 2


@pytest.mark.skipif(not os.path.exists("/sys/class/video4linux/video0"), reason="no camera")
def test_camera_show_on_a_real_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["camera", "show"]) == 0
    assert "present:" in capsys.readouterr().out


def test_protection_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init"]) == 0
    assert "protection passphrase" in capsys.readouterr().out
    assert DeviceKeys.load(load_config().data_dir).protection() is Protection.PASSPHRASE
