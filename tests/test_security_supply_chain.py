"""Supply chain: models are verified at every engine start, every dependency is locked
with hashes, and the CI audit neither fails silently nor passes silently."""

from __future__ import annotations

import importlib.util
import re
import shutil
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from kiosk.config import load_config
from kiosk.errors import ModelIntegrityError
from kiosk.vision.pipeline import FaceEngine

ROOT = Path(__file__).resolve().parent.parent


def test_face_engine_verifies_the_models_at_every_start(tmp_path: Path, models_dir: Path) -> None:
    """Not once at install: a file swapped after a good start is refused at the next one."""
    pack = tmp_path / "pack"
    pack.mkdir()
    for item in models_dir.iterdir():
        if item.is_file():
            if item.stat().st_size > 5_000_000:
                (pack / item.name).symlink_to(item)  # the large recogniser is left untouched
            else:
                shutil.copy(item, pack / item.name)
    cfg = load_config(
        environ={"KIOSK_PATHS_MODELS_DIR": str(pack), "KIOSK_RUNTIME_PROVIDER": "cpu"}
    )
    FaceEngine.from_config(cfg)  # a good start
    detector = pack / "yunet_2023mar_fp32.onnx"
    data = bytearray(detector.read_bytes())
    data[-100] ^= 0xFF
    detector.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="yunet_2023mar_fp32"):
        FaceEngine.from_config(cfg)


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def _test_install(project: dict) -> list[str]:
    """What `pip install -e ".[test]"` asks for: the dependencies and the test extra, with
    the extras it names on the project itself (kiosk[insightface,centre]) followed."""
    extras = project["optional-dependencies"]
    wanted, todo, seen = list(project["dependencies"]), ["test"], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in extras[extra]:
            own = re.fullmatch(rf"{project['name']}\[([^\]]+)\]", req)
            if own:
                todo += [e.strip() for e in own.group(1).split(",")]
            else:
                wanted.append(req)
    return wanted


def test_every_declared_dependency_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _names(_test_install(project))
    assert {"insightface", "fastapi", "alembic", "pytest"} <= declared  # the extras were followed
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {}
    for block in re.split(r"\n(?=\S)", lock):
        m = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if m:
            pinned[m.group(1).lower().replace("_", "-")] = "--hash=sha256:" in block
    missing = sorted(declared - set(pinned))
    assert not missing, f"declared but not in requirements.lock: {missing}"
    unhashed = sorted(name for name, hashed in pinned.items() if not hashed)
    assert not unhashed, f"locked without a hash: {unhashed}"


def test_ci_audits_the_lock_after_the_readme_command() -> None:
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = 'pip install -e ".[test]" && python -m pytest'
    assert command in readme and command in run
    assert run.index("rc=$?") < run.index("python .ci/pip_audit.py")


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_pip_audit", ROOT / ".ci" / "pip_audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unreachable_service_is_a_logged_skip_not_a_pass(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {
                "name": "alembic",
                "skip_reason": "Dependency not found on PyPI and could not be audited",
            },
            {
                "name": "numpy",
                "skip_reason": "Dependency not found on PyPI and could not be audited",
            },
        ]
    }
    code, lines = audit.classify(report)
    assert (
        code == 0
        and lines[0].startswith("pip-audit: SKIPPED")
        and "nothing was audited" in lines[0]
    )


def test_a_known_vulnerability_fails_ci(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "2.10",
                "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"]}],
            },
            {"name": "numpy", "version": "2.0.0", "vulns": []},
        ]
    }
    code, lines = audit.classify(report)
    assert code == 1
    assert any("VULNERABLE jinja2==2.10: PYSEC-2019-217 (2.10.1)" in line for line in lines)


def test_a_clean_audit_says_how_much_it_audited(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {"name": "numpy", "version": "2.0.0", "vulns": []},
            {"name": "kiosk-local", "skip_reason": "not on PyPI"},
        ]
    }
    code, lines = audit.classify(report)
    assert code == 0
    assert lines == [
        "pip-audit: 1 locked packages audited, no known vulnerabilities",
        "pip-audit: 1 not audited: kiosk-local",
    ]
