"""The import graph stays the shape ARCHITECTURE.md draws: the door's runtime path loads
no evaluation tooling, no module imports itself back through a cycle, and the `kiosk`
command's help loads no heavy library (each command imports its work in its handler).

The first and last checks run in a fresh interpreter, because the test session itself has
long since imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent

# What the door imports at run time: frame pipeline, liveness, the check-in state machine,
# cameras and sync.
RUNTIME_MODULES = (
    "kiosk.vision.pipeline",
    "kiosk.vision.liveness",
    "kiosk.checkin.flow",
    "kiosk.camera",
    "kiosk.sync.client",
)
# Libraries `kiosk --help` must not pay for (seconds of start-up, or the UI's Qt).
HEAVY = (
    "cv2",
    "numpy",
    "onnxruntime",
    "onnx",
    "PySide6",
    "rich.progress",
    "kiosk.ledger.keys",
    "fastapi",
    "sqlalchemy",
    "insightface",
    "matplotlib",
)
# Cycles known and owned elsewhere, each with why it is tolerated for now. A new cycle
# fails the test; remove an entry when its cycle goes.
KNOWN_CYCLES: set[tuple[str, str]] = set()


def _loaded_after(code: str, *argv: str) -> list[str]:
    """Module names loaded in a fresh interpreter after running `code` (stdout is the list)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _heavy(loaded: list[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_door_runtime_loads_no_evaluation_tooling() -> None:
    loaded = _loaded_after("\n".join(f"import {m}" for m in RUNTIME_MODULES))
    assert "kiosk.vision.pipeline" in loaded  # the probe really imported the runtime
    assert [m for m in loaded if m.startswith(("kiosk.evaluation", "insightface"))] == []


def test_no_import_cycles_in_kiosk() -> None:
    graph = grimp.build_graph("kiosk", cache_dir=None)
    cycles = set()
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.add(tuple(sorted((module, imported))))
    assert cycles - KNOWN_CYCLES == set()


def _cli(*argv: str) -> str:
    # runpy runs kiosk.cli as `python -m kiosk.cli` would; SystemExit(0) is --help's exit
    return (
        "import runpy, sys\n"
        f"sys.argv = ['kiosk', *{list(argv)!r}]\n"
        "try:\n    runpy.run_module('kiosk.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
    )


def test_kiosk_help_loads_no_heavy_module() -> None:
    loaded = _loaded_after(_cli("--help"))
    assert "kiosk.commands.models_cmd" in loaded  # every command's parser was registered
    assert _heavy(loaded) == []


def test_compare_help_loads_no_heavy_module() -> None:
    loaded = _loaded_after(_cli("compare", "--help"))
    assert _heavy(loaded) == []


def test_strings_the_lazy_parsers_spell_out_match_their_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Parsers that must not import their module repeat a few of its values; keep them equal."""
    from kiosk.checkin.proctor import ProctorRole
    from kiosk.cli import main
    from kiosk.commands.proctor_cmd import ROLE_CHOICES
    from kiosk.ledger.keyseal import NEW_PASSPHRASE_ENV

    assert tuple(r.value for r in ProctorRole) == ROLE_CHOICES
    with pytest.raises(SystemExit) as done:
        main(["keys", "seal", "--help"])
    assert done.value.code == 0
    assert NEW_PASSPHRASE_ENV in capsys.readouterr().out


def test_centre_without_its_extra_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kiosk install (`pip install -e .`) has no server stack: `kiosk centre` says which
    extra to install instead of failing on an import."""
    import importlib.util

    from kiosk.cli import main

    real = importlib.util.find_spec
    absent = {"fastapi", "sqlalchemy"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a)
    )
    assert main(["centre", "key"]) == 2
    assert capsys.readouterr().err == (
        "error [missing_dependency]: the centre needs fastapi, sqlalchemy: install the kiosk "
        'with its [centre] extra (pip install -e ".[centre]")\n'
    )
