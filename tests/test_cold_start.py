"""Cold start of `kiosk compare`: one command module, no evaluation, centre, ledger, camera
or UI code on its path (the figures are in benchmarks/bench_cold_start.py)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from kiosk import cli

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT / "tests" / "data" / "checkin"


def test_command_index_names_the_module_that_registers_each_command() -> None:
    registered: dict[str, str] = {}
    for name in cli.COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        registered.update(dict.fromkeys(sub.choices, name))
    assert registered == cli.COMMAND_INDEX


def test_command_is_found_past_global_options() -> None:
    assert cli.command_in(["--config", "k.toml", "-v", "compare", "a", "b"]) == "compare"
    assert cli.command_in(["-v"]) is None
    assert cli.command_in(["--config", "compare"]) is None


def test_compare_loads_only_what_it_runs() -> None:
    code = (
        "import json, sys; from kiosk.cli import main; "
        f"rc = main(['compare', {str(FACES / 'img42.jpg')!r}, {str(FACES / 'img43.jpg')!r}, "
        "'--json']); "
        "print(json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0  # the same person: a match
    loaded = report["modules"]
    commands = [m for m in loaded if m.startswith("kiosk.commands.")]
    assert commands == ["kiosk.commands.compare_cmd"]  # no other command's parser either
    for banned in (
        "kiosk.evaluation",
        "kiosk.ui",
        "kiosk.ledger",
        "kiosk.camera",
        "kiosk.app",
        "kiosk.demo",
        "kiosk.checkin",
        "centre",
        "PySide6",
        "matplotlib",
        "httpx",
        "rich",  # the answer is one printed line
    ):
        assert not [m for m in loaded if m == banned or m.startswith(banned + ".")], banned


def _kiosk_process(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_compare_as_a_process_prints_its_answer_before_it_exits_at_once() -> None:
    """The process ends without the interpreter's teardown (kiosk/cli.py): the answer
    must still be complete on a pipe, with the exit code."""
    pairs = ROOT / "tests" / "data" / "pairs"
    done = _kiosk_process("compare", str(pairs / "img1.jpg"), str(pairs / "img2.jpg"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "similarity 0.7335: match at threshold 0.4079 (target FMR 0.001)\n"
    assert done.stderr == ""


def test_compare_ending_early_as_a_process_still_says_why(tmp_path: Path) -> None:
    """No face in photo A ends compare while the recogniser may still be opening on its
    thread: the thread finishes, then the one error line and exit code 2."""
    import cv2
    import numpy as np

    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    done = _kiosk_process("compare", str(blank), str(FACES / "img42.jpg"))
    assert done.returncode == 2
    assert done.stderr == f"error [no_face]: {blank}: no face found\n"
    assert done.stdout == ""
