"""The type gate: mypy over the packages that hold the door's decisions and its evidence
(kiosk/ledger, kiosk/checkin, kiosk/storage.py), configured in pyproject.toml
[tool.mypy]. Zero errors, so a new one fails here instead of in review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("kiosk/protocol", "kiosk/ledger", "kiosk/checkin", "kiosk/storage.py")


def test_mypy_config_checks_the_packages_this_test_names() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert tuple(config["files"]) == CHECKED


def test_mypy_finds_no_errors() -> None:
    # The mypy of this interpreter (the test extra); the files come from [tool.mypy].
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
