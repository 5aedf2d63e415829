"""`kiosk demo` (headless and in the window), `kiosk calibrate` and its self-test."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.cli import main
from kiosk.commands.app_cmd import display_available
from kiosk.config import load_config
from kiosk.ui.calibration import CalibrationWindow
from kiosk.ui.i18n import Translator

DATA = Path(__file__).resolve().parent / "data"
WAIT_MS = 30_000


def test_display_detection() -> None:
    assert not display_available({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    if __import__("sys").platform.startswith("linux"):
        assert not display_available({})
        assert display_available({"DISPLAY": ":99"})
        assert display_available({"WAYLAND_DISPLAY": "wayland-0"})


def test_kiosk_demo_runs_headless_without_a_display(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command on a server: QR claim, the genuine applicant accepted by
    the real liveness check, impostor refused, then the demo proctor's override; nothing
    written outside a temporary folder. Prompts and result texts in the chosen language."""
    assert main(["demo", "--language", "kk"]) == 0
    out = capsys.readouterr().out
    assert "no display found: running the demo headless" in out
    assert "PIN 2468" in out
    assert "liveness: active+passive" in out
    assert "claimed   reason=claimed applicant=Aruzhan Bekova" in out
    assert "prompt=turn_" in out
    assert "decision accepted (matched)" in out
    assert "decision rejected (no_match)" in out
    assert "accepted_by_override" in out
    assert "needs_proctor" not in out
    # What the applicant reads, in Kazakh: the head-turn prompts and the result screens.
    assert '"Басыңызды солға бұрыңыз"' in out or '"Басыңызды оңға бұрыңыз"' in out
    assert 'screen: "Қош келдіңіз, A. B."' in out
    assert '"Қайталап көріңіз. Қалған әрекет: 2"' in out
    data_dir = load_config().data_dir
    assert not (data_dir / "ledger.sqlite").exists()


def test_headless_demo_signs_an_accepted_live_check_in_a_refusal_and_an_override(
    engine,
) -> None:
    """The signed records behind the demo: the genuine applicant accepted (matched) with
    liveness checked and passed in active+passive mode, the impostor rejected (no_match),
    and the proctor's override of that refusal. Seeded, so the same on every run."""
    from kiosk.app.door_status import applicant_status, overridable_refusals
    from kiosk.demo.door import SimClock, build_demo_door, override_for_demo
    from kiosk.demo.headless import replay

    for _ in range(2):
        clock = SimClock()
        demo = build_demo_door(load_config(), engine=engine, clock=clock)
        try:
            replay(demo, clock)
            genuine, impostor = demo.decisions
            assert (genuine.applicant_id, genuine.decision.value) == ("A1001", "accepted")
            assert (impostor.applicant_id, impostor.decision.value) == ("A1002", "rejected")
            flow = demo.flow
            statuses = [applicant_status(flow, a) for a in ("A1001", "A1002", "A1003")]
            assert statuses == ["accepted", "rejected", "waiting"]
            assert [r.record_id for r in overridable_refusals(flow)] == [impostor.record_id]
            assert override_for_demo(demo, genuine) is None
            admitted = override_for_demo(demo, impostor)
            assert admitted is not None and admitted.decision.value == "accepted_by_override"
            assert applicant_status(flow, "A1002") == "accepted_by_override"
            assert overridable_refusals(flow) == []
            records = [e.record for e in demo.flow.ledger.iter_envelopes()]
            checkins = {r.id: r.body for r in records if r.type == "checkin"}
            g, i = checkins[genuine.record_id], checkins[impostor.record_id]
            assert (g["decision"], g["reason"]) == ("accepted", "matched")
            assert g["liveness"]["mode"] == "active+passive"
            assert g["liveness"]["checked"] is True and g["liveness"]["passed"] is True
            assert g["liveness"]["reason"] == "live"
            assert (i["decision"], i["reason"]) == ("rejected", "no_match")
            (override,) = [r.body for r in records if r.type == "override"]
            assert override["refused_record_id"] == impostor.record_id
            assert override["decision"] == "accepted_by_override"
        finally:
            demo.close()
        assert not demo.data_dir.exists()  # the temporary demo folder goes with the door


def test_windowed_demo_checks_in_from_a_qr_on_the_demo_camera(qtbot, engine) -> None:
    from kiosk.demo.door import build_demo_door
    from kiosk.ui.app import KioskWindow

    demo = build_demo_door(load_config(), engine=engine, fps=8)
    window = KioskWindow(demo.door, Translator("en"), locked=True, demo=True)
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        screen = window.applicant
        assert screen.banner.isVisible()
        # The demo roster carries each person's booking photo for the proctor's panel.
        assert [len(a.photo or b"") > 0 for a in demo.flow.roster.applicants] == [True] * 5
        # No tap at all: the QR card on the camera claims the booking.
        qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
        decision = demo.flow.state.decision
        assert decision is not None and decision.applicant_id == "A1001"
        # The rendered applicant answered the real liveness prompts in real time.
        assert (decision.decision.value, decision.reason.value) == ("accepted", "matched")
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
