"""Shared test set-up: no screen, no user data touched, real models and real images."""

from __future__ import annotations

import os
from pathlib import Path

# Qt must pick its platform before any test imports PySide6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# keyring picks its backend once, on first use, and that can happen in a module-scoped
# fixture before the per-test environment below is in place; it would then pick the
# highest-priority backend class it knows, e.g. a test's in-memory one, and keep it for
# the rest of the run (a witness written there leaked into later tests). The fail backend
# from the start: tests that want a keyring set one explicitly.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

import pytest

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
REPO_ROOT = TESTS_DIR.parent
MODELS_DIR = REPO_ROOT / "models"


@pytest.fixture(autouse=True)
def _isolated_kiosk_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own data dir and no inherited KIOSK_* settings."""
    for name in list(os.environ):
        if name.startswith("KIOSK_") and name != "KIOSK_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KIOSK_PATHS_DATA_DIR", str(tmp_path_factory.mktemp("kiosk-data")))
    monkeypatch.setenv("KIOSK_RUNTIME_PROVIDER", "cpu")
    # Device keys are sealed with a passphrase in tests (the production path, see
    # kiosk/ledger/keyseal.py); the user's real OS keyring is never touched.
    monkeypatch.setenv("KIOSK_KEY_PASSPHRASE", "test-only key passphrase")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory):
    """One face engine on the bundled pack, CPU, shared by the whole session (loading is
    the slow part; the engine keeps no per-frame state). Its data dir (the optimised-graph
    cache) is a temporary one, never the user's."""
    from kiosk.config import load_config
    from kiosk.vision.pipeline import FaceEngine

    data = tmp_path_factory.mktemp("engine-data")
    cfg = load_config(environ={"KIOSK_RUNTIME_PROVIDER": "cpu", "KIOSK_PATHS_DATA_DIR": str(data)})
    return FaceEngine.from_config(cfg)


@pytest.fixture(scope="session")
def insightface_group_photo() -> Path:
    """t1.jpg, the six-person photo the insightface package ships."""
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    if not path.is_file():
        pytest.skip("insightface sample image not installed")
    return path
