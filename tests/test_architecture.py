"""House rules that keep the layout honest: Qt only in kiosk/ui, the core never imports
the UI or CLI (the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_qt_outside_kiosk_ui() -> None:
    offenders = []
    for folder in ("kiosk", "centre"):
        for path in (ROOT / folder).rglob("*.py"):
            if (ROOT / "kiosk" / "ui") in path.parents:
                continue
            if any(name.split(".")[0] in QT for name in _imports(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_import_linter_contracts_hold() -> None:
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_ruff_lint_and_format_are_clean() -> None:
    """The style gate: `ruff check` and `ruff format --check` on the whole tree."""
    import subprocess
    import sys

    # The ruff of this interpreter (the test extra), not whichever one PATH finds first.
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-500:]


def test_the_cli_loads_no_door_or_demo_code_until_a_command_runs() -> None:
    """The commands import `kiosk.app` and `kiosk.demo` inside their handlers, so building
    the `kiosk` command (every invocation does) loads no door assembly and no demo keys."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from kiosk.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in (['kiosk', 'app'], "
        "['kiosk', 'demo'])))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
