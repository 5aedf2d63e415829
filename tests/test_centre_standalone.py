"""The centre stands on its own: its own settings and entry point, and of the kiosk it
loads only `kiosk.protocol` (no OpenCV, numpy, ONNX Runtime, Qt or kiosk config)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from centre.core.config import CentreSettings
from centre.errors import CentreConfigError

HEAVY = ("cv2", "numpy", "onnxruntime", "PySide6", "kiosk.cli", "kiosk.config", "kiosk.errors")


def _python(code_or_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "CENTRE_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, *code_or_args], capture_output=True, text=True, timeout=180, env=full_env
    )


def test_creating_the_app_loads_only_the_protocol_from_the_kiosk(tmp_path: Path) -> None:
    """The wire contract, plus `kiosk.storage` (stdlib only: the one durable-write helper,
    which the centre uses for its key file rather than keeping a second copy)."""
    code = (
        "import json, sys, pathlib\n"
        "import centre.app\n"
        "from centre.core.config import CentreSettings\n"
        f"centre.app.create_app(CentreSettings(data_dir=pathlib.Path({str(tmp_path)!r}),"
        " key_passphrase='test-only centre passphrase'))\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "kiosk = sorted({m.split('.')[1] for m in sys.modules if m.startswith('kiosk.')})\n"
        "print(json.dumps([heavy, kiosk]))\n"
    )
    done = _python(["-c", code], {})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[], ["protocol", "storage"]]


def test_python_m_centre_prints_the_key_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    env = {
        "CENTRE_DATA_DIR": str(tmp_path / "data"),
        "KIOSK_CENTRE_KEY_PASSPHRASE": "test-only centre passphrase",
    }
    done = _python(["-m", "centre", "key"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("key id ")
    assert (tmp_path / "data" / "centre_signing_key.sealed").exists()  # sealed, never PEM
    assert not (tmp_path / "data" / "centre_signing_key.pem").exists()
    no_passphrase = _python(["-m", "centre", "key"], {"CENTRE_DATA_DIR": str(tmp_path / "data")})
    assert no_passphrase.returncode == 2
    assert "set KIOSK_CENTRE_KEY_PASSPHRASE" in no_passphrase.stderr
    assert _python(["-m", "centre", "add-user", "ann", "--role", "admin"], env).returncode == 0
    again = _python(["-m", "centre", "add-user", "ann", "--role", "viewer"], env)
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1 and again.stderr.startswith("error [")


def test_settings_precedence_file_then_kiosk_vars_then_centre_vars(tmp_path: Path) -> None:
    toml = tmp_path / "kiosk.toml"
    toml.write_text(
        '[paths]\ndata_dir = "/srv/kiosk"\n[centre]\nport = 9001\nmax_batch = 10\n'
        '[camera]\nsource = "1"\n',
        encoding="utf-8",
    )
    from_file = CentreSettings.load(toml, environ={})
    assert (from_file.port, from_file.max_batch, from_file.data_dir) == (
        9001,
        10,
        Path("/srv/kiosk"),
    )
    kiosk_vars = {"KIOSK_CENTRE_PORT": "9002", "KIOSK_CENTRE_DB": "sqlite:///k.db"}
    s = CentreSettings.load(toml, environ=kiosk_vars)
    assert (s.port, s.db_url) == (9002, "sqlite:///k.db")
    s = CentreSettings.load(
        toml, environ={**kiosk_vars, "CENTRE_PORT": "9003", "CENTRE_DATA_DIR": str(tmp_path)}
    )
    assert (s.port, s.data_dir, s.max_batch) == (9003, tmp_path, 10)


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[centre]\nprot = 1\n", {}, "unknown [centre] key(s): prot"),
        ("", {"CENTRE_PORT": "eighty"}, "[centre] port: 'eighty' is not a valid int"),
        ("[centre]\nport = 0\n", {}, "[centre] port must be 1..65535"),
        ("[centre]\nmigrate_on_start = 1\n", {}, "[centre] migrate_on_start must be a bool, got 1"),
    ],
)
def test_bad_settings_are_refused_with_one_sentence(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    toml = tmp_path / "centre.toml"
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(CentreConfigError) as err:
        CentreSettings.load(toml, environ=environ)
    assert str(err.value).endswith(message)
