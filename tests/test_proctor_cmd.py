"""`kiosk proctor add|list|unlock|set-pin` through `kiosk.cli.main`, on the very directory
`kiosk run` signs proctors in from (each test has its own data dir, see conftest)."""

from __future__ import annotations

import io

import pytest

from kiosk.checkin.proctor import ProctorDirectory, ProctorRole, open_proctor_directory
from kiosk.cli import main
from kiosk.config import load_config
from kiosk.errors import ProctorAuthError, ProctorLockedOut

ADMIN, ADMIN_PIN = "root", "2580"


def _door_directory() -> ProctorDirectory:
    """What `kiosk run` opens (kiosk.app.door.build_door uses the same helper)."""
    from kiosk.app import door
    from kiosk.ledger.keys import DeviceKeys

    assert door.open_proctor_directory is open_proctor_directory
    cfg = load_config()
    return open_proctor_directory(cfg, DeviceKeys.for_config(cfg))


def _kiosk(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["proctor", *argv])


def _add_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ("add", ADMIN, "--name", "Root Admin", "--role", "admin", "--pin-stdin")
    assert _kiosk(monkeypatch, *argv, stdin=f"{ADMIN_PIN}\n") == 0


def test_first_admin_then_accounts_the_door_can_sign_in_with(monkeypatch, capsys) -> None:
    _add_admin(monkeypatch)
    argv = ("add", "p.aliyev", "--name", "Proctor Aliyev", "--pin-stdin")
    # With an admin in the directory nobody adds accounts without one.
    assert _kiosk(monkeypatch, *argv, stdin="1357\n") == 2
    assert "pass --admin" in capsys.readouterr().err
    assert _kiosk(monkeypatch, *argv, "--admin", ADMIN, stdin=f"{ADMIN_PIN}\n1357\n") == 0
    tech = ("add", "t.nur", "--name", "Tech Nur", "--role", "technician", "--pin-stdin")
    assert _kiosk(monkeypatch, *tech, "--admin", ADMIN, stdin=f"{ADMIN_PIN}\n4826\n") == 0
    directory = _door_directory()
    try:
        assert directory.authenticate("p.aliyev", "1357").role is ProctorRole.PROCTOR
        assert directory.authenticate("t.nur", "4826").role is ProctorRole.TECHNICIAN
        assert directory.authenticate(ADMIN, ADMIN_PIN).role is ProctorRole.ADMIN
    finally:
        directory.close()
    capsys.readouterr()
    assert _kiosk(monkeypatch, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["p.aliyev", "proctor"],
        ["root", "admin"],
        ["t.nur", "technician"],
    ]


def test_pins_are_never_taken_from_the_command_line(monkeypatch, capsys) -> None:
    with pytest.raises(SystemExit):
        _kiosk(monkeypatch, "add", "p1", "--name", "P One", "--pin", "1357")
    assert "unrecognized arguments: --pin" in capsys.readouterr().err


def test_terminal_prompt_asks_twice_and_refuses_a_mismatch(monkeypatch, capsys) -> None:
    answers = iter(["1357", "1375"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert _kiosk(monkeypatch, "add", "boss", "--name", "The Boss", "--role", "admin") == 2
    assert "the two PINs differ" in capsys.readouterr().err
    answers = iter(["1357", "1357"])
    assert _kiosk(monkeypatch, "add", "boss", "--name", "The Boss", "--role", "admin") == 0
    capsys.readouterr()
    answers = iter(["1357", "1111"])  # admin PIN, then a new PIN the policy refuses at once
    assert _kiosk(monkeypatch, "add", "p2", "--name", "P Two", "--admin", "boss") == 2
    assert "too easy" in capsys.readouterr().err


def test_unlock_needs_an_admin_pin_and_ends_the_lockout(monkeypatch, capsys) -> None:
    _add_admin(monkeypatch)
    argv = ("add", "p1", "--name", "P One", "--admin", ADMIN, "--pin-stdin")
    assert _kiosk(monkeypatch, *argv, stdin=f"{ADMIN_PIN}\n1357\n") == 0
    directory = _door_directory()
    try:
        for _ in range(5):
            with pytest.raises(ProctorAuthError):
                directory.authenticate("p1", "9999")
        with pytest.raises(ProctorLockedOut):
            directory.authenticate("p1", "1357")
        capsys.readouterr()
        assert _kiosk(monkeypatch, "list") == 0
        assert "locked out until" in capsys.readouterr().out
        # A wrong admin PIN, or a proctor instead of an admin, unlocks nothing.
        unlock = ("unlock", "p1", "--pin-stdin", "--admin")
        assert _kiosk(monkeypatch, *unlock, ADMIN, stdin="0000\n") == 2
        assert "proctor id or PIN not accepted" in capsys.readouterr().err
        assert _kiosk(monkeypatch, *unlock, "p1", stdin="1357\n") == 2
        with pytest.raises(ProctorLockedOut):
            directory.authenticate("p1", "1357")
        assert _kiosk(monkeypatch, *unlock, ADMIN, stdin=f"{ADMIN_PIN}\n") == 0
        assert directory.authenticate("p1", "1357").proctor_id == "p1"
        assert _kiosk(monkeypatch, "unlock", "ghost", "--admin", ADMIN, "--pin-stdin") == 2
        assert "unknown proctor 'ghost'" in capsys.readouterr().err
    finally:
        directory.close()


def test_set_pin_by_an_admin_replaces_the_old_pin(monkeypatch, capsys) -> None:
    _add_admin(monkeypatch)
    argv = ("add", "p1", "--name", "P One", "--admin", ADMIN, "--pin-stdin")
    assert _kiosk(monkeypatch, *argv, stdin=f"{ADMIN_PIN}\n1357\n") == 0
    set_pin = ("set-pin", "p1", "--admin", ADMIN, "--pin-stdin")
    assert _kiosk(monkeypatch, *set_pin, stdin=f"{ADMIN_PIN}\n1234\n") == 2  # policy
    assert "too easy" in capsys.readouterr().err
    assert _kiosk(monkeypatch, *set_pin, stdin=f"{ADMIN_PIN}\n8642\n") == 0
    directory = _door_directory()
    try:
        with pytest.raises(ProctorAuthError):
            directory.authenticate("p1", "1357")
        assert directory.authenticate("p1", "8642").proctor_id == "p1"
    finally:
        directory.close()
    assert _kiosk(monkeypatch, "set-pin", "p1", "--admin", ADMIN, "--pin-stdin") == 2
    assert "no line for the PIN of root" in capsys.readouterr().err
