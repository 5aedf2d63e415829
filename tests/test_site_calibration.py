"""`point_config_at`: "Write calibration" sets [match] calibration_file without a hand
edit, keeping the technician's comments and other settings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from kiosk.config import load_config
from kiosk.evaluation.site_calibration import point_config_at


def test_creates_the_config_when_absent(tmp_path: Path) -> None:
    config, cal = tmp_path / "kiosk.toml", tmp_path / "calibration" / "calibration.toml"
    point_config_at(config, cal)
    assert config.read_text() == f'[match]\ncalibration_file = "{cal}"\n'
    assert load_config(config).match.calibration_file == str(cal)


def test_replaces_the_key_and_keeps_comments_and_other_tables(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        "# door 3, room 101\n[match]\ntarget_fmr = 0.001  # site policy\n"
        'calibration_file = "/old/cal.toml"\n\n[ui]\nlanguage = "kk"\n'
    )
    point_config_at(config, tmp_path / 'new "site".toml')
    text = config.read_text()
    assert "# door 3, room 101" in text and "# site policy" in text and "/old/" not in text
    data = tomllib.loads(text)
    assert data["match"] == {
        "target_fmr": 0.001,
        "calibration_file": str(tmp_path / 'new "site".toml'),
    }
    assert data["ui"] == {"language": "kk"}


def test_adds_the_key_to_an_existing_match_table(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[ui]\nlanguage = "ru"\n[match]\ntarget_fmr = 0.0001\n')
    point_config_at(config, tmp_path / "c.toml")
    data = tomllib.loads(config.read_text())
    assert data["match"]["calibration_file"] == str(tmp_path / "c.toml")
    assert data["match"]["target_fmr"] == 0.0001
