"""`kiosk demo` (headless and in the window), `kiosk calibrate` and its self-test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.cli import main
from kiosk.commands.app_cmd import display_available
from kiosk.config import load_config
from kiosk.ui.calibration import CalibrationWindow
from kiosk.ui.i18n import Translator
from kiosk.vision.pipeline import FaceEngine

DATA = Path(__file__).resolve().parent / "data"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    cfg = load_config()
    cfg.runtime.provider = "cpu"
    return FaceEngine.from_config(cfg)


def test_display_detection() -> None:
    assert not display_available({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    if __import__("sys").platform.startswith("linux"):
        assert not display_available({})
        assert display_available({"DISPLAY": ":99"})
        assert display_available({"WAYLAND_DISPLAY": "wayland-0"})


def test_kiosk_demo_runs_headless_without_a_display(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command on a server: QR claim, genuine match, impostor refused,
    then the demo proctor's override; nothing written outside a temporary folder."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "no display found: running the demo headless" in out
    assert "PIN 2468" in out
    assert "claimed   reason=claimed applicant=Aruzhan Bekova" in out
    assert "decision needs_proctor (liveness_unavailable)" in out
    assert "decision rejected (no_match)" in out
    assert "accepted_by_override" in out
    data_dir = load_config().data_dir
    assert not (data_dir / "ledger.sqlite").exists()


def test_windowed_demo_checks_in_from_a_qr_on_the_demo_camera(qtbot, engine) -> None:
    from kiosk.ui.app import KioskWindow
    from kiosk.ui.demo import build_demo_door

    demo = build_demo_door(load_config(), engine=engine, fps=8)
    window = KioskWindow(demo.door, Translator("en"), locked=True, demo=True)
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        screen = window.applicant
        assert screen.banner.isVisible()
        # No tap at all: the QR card on the camera claims the booking.
        qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
        assert screen.result_title.text() == "A proctor will check your identity"
        assert screen.result_detail.text() == "The liveness check is not available on this kiosk"
        decision = demo.flow.state.decision
        assert decision is not None and decision.applicant_id == "A1001"
        assert decision.score is not None and decision.score > decision.threshold
    finally:
        window.shutdown()
        demo.close()


def test_calibrate_self_test_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    camera = tmp_path / "cam"
    camera.mkdir()
    (camera / "0001.jpg").write_bytes((DATA / "img1.jpg").read_bytes())
    assert main(["calibrate", "--self-test", "--camera", str(camera)]) == 0
    out = capsys.readouterr().out
    assert "PASS models" in out and "verified" in out
    assert "PASS camera" in out and "images cam" in out
    assert "SKIP centre" in out
    assert "PASS clock" in out and "PASS disk" in out
    assert main(["calibrate", "--self-test", "--camera", str(tmp_path / "nope")]) == 1
    assert "FAIL camera" in capsys.readouterr().out


def test_calibration_window_overlays_latency_and_similarity(qtbot, engine, tmp_path) -> None:
    camera = tmp_path / "cam"
    camera.mkdir()
    (camera / "0001.jpg").write_bytes((DATA / "img2.jpg").read_bytes())
    cfg = load_config()
    grabber = LatestFrameGrabber(ImageFolderSource(camera, fps=10, loop=True))
    window = CalibrationWindow(engine, grabber, cfg, Translator("en"))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.start()
    try:
        qtbot.waitUntil(lambda: window.last is not None, timeout=WAIT_MS)
        assert window.provider.text() == "Execution provider: CPUExecutionProvider"
        assert window.faces.text() == "Faces in view: 1"
        assert window.pose.text().startswith("Yaw ")
        assert window.measures.rowCount() >= 10
        assert window.similarity.text() == "No template chosen"
        assert window.set_template_from_photo(str(DATA / "img1.jpg"))  # same person
        qtbot.waitUntil(
            lambda: "Similarity to template" in window.similarity.text(), timeout=WAIT_MS
        )
        same = window.similarity_to_template(window.last.analysis.primary)
        assert same is not None and same > 0.4
        window._refresh_rates()
        detect_ms = window.latency.item(0, 1).text()
        assert detect_ms != "-" and float(detect_ms) > 0
        assert "analysis" in window.fps.text()
        window.grab()  # the overlay painter runs without error
        qtbot.mouseClick(window.selftest_btn, Qt.MouseButton.LeftButton)
        text = window.selftest.text()
        assert "Model pack" in text and "Camera" in text and "Disk space" in text
        assert "FAIL" not in text
    finally:
        window.shutdown()
