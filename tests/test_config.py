"""Configuration: defaults work offline, TOML and KIOSK_* overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import dump_toml, load_config
from kiosk.errors import ConfigError


def test_defaults_are_valid_and_offline() -> None:
    cfg = load_config(environ={})
    assert cfg.runtime.provider == "auto"
    assert cfg.sync.centre_url == ""  # offline until a centre is configured
    assert Path(cfg.paths.models_dir, "manifest.toml").is_file()


def test_file_then_environment_precedence(tmp_path: Path) -> None:
    f = tmp_path / "k.toml"
    f.write_text('[runtime]\nintra_op_threads = 1\n[sync]\ncentre_url = "http://file"\n')
    cfg = load_config(f, environ={"KIOSK_SYNC_CENTRE_URL": "http://env"})
    assert cfg.runtime.intra_op_threads == 1
    assert cfg.sync.centre_url == "http://env"


@pytest.mark.parametrize(
    "text,message",
    [
        ("[runtim]\nprovider='cpu'\n", r"unknown section \[runtim\]"),
        ("[runtime]\nprovidr='cpu'\n", r"unknown key \[runtime\] providr"),
        ("[runtime]\nintra_op_threads='two'\n", "must be an integer"),
        ("[runtime]\nprovider='tpu'\n", "expected one of auto, cpu, cuda"),
        ("[vision]\ndetector_long_side=300\n", "multiple of 32"),
        ("[vision]\ndet_score_threshold=1.5\n", "between 0 and 1"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "k.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(f, environ={})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", environ={})


def test_show_round_trips(tmp_path: Path) -> None:
    cfg = load_config(environ={"KIOSK_UI_LANGUAGE": "kk"})
    f = tmp_path / "shown.toml"
    f.write_text(dump_toml(cfg))
    assert load_config(f, environ={}).ui.language == "kk"


def test_cli_config_check_reports_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[ui]\nlanguage='de'\n")
    assert main(["config", "check", str(f)]) == 2
    assert "language" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text("[ui]\nlanguage='ru'\n")
    assert main(["config", "check", str(good)]) == 0
