"""The kiosk window end to end, offscreen: real widgets, real face engine, real flow,
ledger and proctor directory, with an image-folder camera replaying real face photos.

Liveness is the one stand-in: still photos cannot turn their heads, so a scripted
checker asks for one head turn and then passes (the real checker has its own tests).
Everything is waited for with qtbot.waitUntil and asserted on visible texts.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from kiosk.app.door import Door
from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.checkin.flow import CheckinFlow, StateName
from kiosk.checkin.matcher import Matcher
from kiosk.checkin.proctor import OverrideReason, ProctorDirectory, pin_key_for
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, Template
from kiosk.config import load_config
from kiosk.errors import CameraUnavailable
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.keyseal import KeyPolicy
from kiosk.ledger.store import LedgerStore
from kiosk.ui.app import KioskWindow
from kiosk.ui.i18n import Translator
from kiosk.vision.pipeline import FaceEngine

DATA = Path(__file__).resolve().parent / "data"
ROOM = "A-101"
PROCTOR_ID, PROCTOR_PIN = "p1", "2580"
WAIT_MS = 20_000


@dataclass
class _Verdict:
    passed: bool | None = True
    score: float = 1.0
    reason: str = "scripted"
    cues: dict[str, float] = field(default_factory=dict)


@dataclass
class _Step:
    prompt: str | None
    progress: float
    verdict: _Verdict | None = None


class ScriptedLiveness:
    """Asks for `turn_left` on the first frames, then passes."""

    available = True
    unavailable_reason = ""

    def __init__(self, frames: int = 2) -> None:
        self.frames = frames

    def start(self, rng=None):
        left = [self.frames]

        class _Session:
            def feed(self, obs, frame_bgr, t):
                left[0] -= 1
                if left[0] >= 0:
                    return _Step("turn_left", 0.5)
                return _Step(None, 1.0, _Verdict())

        return _Session()


@pytest.fixture(scope="session")
def templates(engine: FaceEngine) -> dict[str, Template]:
    """person00 enrolled from img1, person01 from img12 (probes are other photos)."""
    return {
        name: Template(engine.pack_id, engine.embed_photo(str(DATA / photo)).embedding)
        for name, photo in (("person00", "img1.jpg"), ("person01", "img12.jpg"))
    }


def _camera_folder(tmp_path: Path, photo: str, copies: int = 3) -> Path:
    folder = tmp_path / f"camera-{photo}"
    folder.mkdir()
    for i in range(copies):
        shutil.copy(DATA / photo, folder / f"{i:03d}.jpg")
    return folder


class FlakyCamera(ImageFolderSource):
    """An image-folder camera whose cable the test can pull out and plug back in."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, fps=15, loop=True)
        self.plugged = threading.Event()
        self.plugged.set()

    def open(self) -> None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 cannot be opened (unplugged?)")
        super().open()

    def read(self) -> np.ndarray | None:
        if not self.plugged.is_set():
            raise CameraUnavailable("camera 0 stopped delivering frames")
        return super().read()


def build_door(
    tmp_path: Path,
    engine: FaceEngine,
    templates: dict[str, Template],
    source: ImageFolderSource,
    *,
    room: str = ROOM,
    open_session: bool = True,
    clock: Callable[[], float] | None = None,
) -> Door:
    cfg = load_config()
    cfg.liveness.mode = "active"
    now = datetime.now(UTC)
    session = ExamSession(
        "S-1", "ALM-1", ROOM, "theory", now + timedelta(minutes=10), now + timedelta(hours=2)
    )
    applicants = [
        BookedApplicant(
            "app-0", "990101300012", "Aigerim Sadykova", "12", "AB12CD", [templates["person00"]]
        ),
        BookedApplicant(
            "app-1", "980202400013", "Daniyar Omarov", "14", "EF34GH", [templates["person01"]]
        ),
    ]
    roster = Roster("R-1", 1, now, now + timedelta(days=1), session, applicants)
    data = tmp_path / "data"
    keys = DeviceKeys.load_or_create(data, KeyPolicy.plaintext_for_demo())
    ledger = LedgerStore(data / "ledger.sqlite", keys)
    proctors = ProctorDirectory(data / "proctors.sqlite", pin_key=pin_key_for(keys))
    proctors.add(PROCTOR_ID, "Gulnara Proctor", "proctor", PROCTOR_PIN)
    matcher = Matcher.from_config(cfg, engine.pack)
    flow = CheckinFlow(
        engine, roster, ledger, matcher, ScriptedLiveness(), cfg, room=room, **clock_kw(clock)
    )
    if open_session:
        flow.open_session(proctors.authenticate(PROCTOR_ID, PROCTOR_PIN))
    grabber = LatestFrameGrabber(source, retry_s=0.05, max_retry_s=0.2)
    door = Door(engine, flow, proctors, grabber)
    door.resources.callback(ledger.close)
    door.resources.callback(proctors.close)
    return door


def clock_kw(clock: Callable[[], float] | None) -> dict[str, Callable[[], float]]:
    return {} if clock is None else {"clock": clock}


@pytest.fixture
def make_window(qtbot, tmp_path, engine, templates):
    windows: list[KioskWindow] = []

    def make(source: ImageFolderSource, **kwargs) -> KioskWindow:
        door = build_door(tmp_path, engine, templates, source, **kwargs)
        window = KioskWindow(door, Translator("en"), locked=True)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        window.start()
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.shutdown()
        w.door.close()


def _claim_by_code(qtbot, window: KioskWindow, code: str) -> None:
    screen = window.applicant
    qtbot.mouseClick(screen.code_btn, Qt.MouseButton.LeftButton)
    assert screen.pages.currentIndex() == screen.PAGE_KEYPAD
    for ch in code:
        qtbot.mouseClick(screen.keypad.keys[ch], Qt.MouseButton.LeftButton)
    assert screen.keypad.display.text() == code
    qtbot.mouseClick(screen.keypad.submit_btn, Qt.MouseButton.LeftButton)


def _records(window: KioskWindow, rtype: str) -> list[dict]:
    return [
        e.record.body for e in window.door.flow.ledger.iter_envelopes() if e.record.type == rtype
    ]


def test_full_checkin_through_the_widgets(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), fps=15, loop=True))
    screen = window.applicant
    assert screen.title.text() == "Welcome"
    # The live view gets frames and the guide turns green on a good face.
    qtbot.waitUntil(lambda: window.results_seen > 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: screen.video.guide_state == "good", timeout=WAIT_MS)

    seen_prompts: set[str] = set()
    window.door.flow.subscribe(lambda s: seen_prompts.add(str(s.prompt)))
    _claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    assert screen.result_title.text() == "Welcome, Aigerim Sadykova"
    assert screen.result_detail.text() == f"Room {ROOM}, seat 12"
    assert screen.result_next.text() == "Please go in"
    assert "turn_left" in seen_prompts  # the liveness prompt went through the screen
    (body,) = _records(window, "checkin")
    assert (body["decision"], body["applicant_id"]) == ("accepted", "app-0")
    assert window.door.flow.door_lock.releases == 1


def test_liveness_prompt_is_shown_translated(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), fps=15, loop=True))
    window.door.flow.liveness = ScriptedLiveness(frames=10_000)  # never finishes
    window.tr_.set_language("ru")
    _claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: window.door.flow.state.name == StateName.LIVENESS, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: window.applicant.prompt.text() == "Поверните голову влево", timeout=WAIT_MS
    )
    assert window.applicant.title.text() == "Следуйте инструкции"


def test_refusal_then_proctor_override_through_the_panel(qtbot, tmp_path, make_window) -> None:
    # Aigerim's booking, but Daniyar (another booked applicant) is in front of the camera.
    window = make_window(ImageFolderSource(_camera_folder(tmp_path, "img3.jpg"), fps=15, loop=True))
    screen = window.applicant
    _claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    assert screen.result_title.text() == "We could not confirm your identity"
    assert screen.result_next.text() == "Please call the proctor"
    assert screen.result.property("tone") == "bad"
    (refused,) = _records(window, "checkin")
    assert refused["decision"] == "rejected"

    # The proctor's hidden key, then ID + PIN.
    qtbot.keyClick(
        window,
        Qt.Key.Key_P,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    panel = window.panel
    assert window.stack.currentWidget() is panel
    assert panel.pages.currentIndex() == 0
    qtbot.keyClicks(panel.id_edit, PROCTOR_ID)
    qtbot.keyClicks(panel.pin_edit, "1357")  # wrong PIN first
    qtbot.mouseClick(panel.login_btn, Qt.MouseButton.LeftButton)
    assert panel.login_error.text() == "Wrong ID or PIN"
    assert panel.account is None
    qtbot.keyClicks(panel.pin_edit, PROCTOR_PIN)
    qtbot.mouseClick(panel.login_btn, Qt.MouseButton.LeftButton)
    assert panel.account is not None and panel.pages.currentIndex() == 1

    assert panel.table.item(0, 3).text() == "Refused"
    assert "Aigerim Sadykova" in panel.refusal_combo.currentText()
    assert panel.pending_label.text().startswith("Records waiting to sync: ")
    assert panel.centre_label.text() == "Centre: offline mode (not configured)"
    # A note is required: too short is refused with the core's sentence.
    panel.reason_combo.setCurrentIndex(
        panel.reason_combo.findData(OverrideReason.DOCUMENT_CHECKED_MANUALLY)
    )
    qtbot.keyClicks(panel.note_edit, "ok")
    qtbot.mouseClick(panel.override_btn, Qt.MouseButton.LeftButton)
    assert panel.status.text().startswith("Not allowed: override note must be at least")
    assert _records(window, "override") == []
    panel.note_edit.setPlainText("ID card checked at the desk, photo is 8 years old")
    qtbot.mouseClick(panel.override_btn, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "Override recorded and signed"
    (override,) = _records(window, "override")
    assert override["reason"] == "document_checked_manually"
    assert override["applicant_id"] == "app-0"
    assert panel.table.item(0, 3).text() == "Admitted by override"
    assert panel.refusal_combo.currentText() == "No refusal to override"
    qtbot.mouseClick(panel.back_btn, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is screen and panel.account is None


def test_session_open_close_and_door_unlock_from_the_panel(qtbot, tmp_path, make_window) -> None:
    window = make_window(
        ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True), open_session=False
    )
    panel = window.panel
    window.show_proctor_panel()
    qtbot.keyClicks(panel.id_edit, PROCTOR_ID)
    qtbot.keyClicks(panel.pin_edit, PROCTOR_PIN)
    qtbot.keyClick(panel.pin_edit, Qt.Key.Key_Return)
    assert panel.session_state.text() == "Session is closed"
    qtbot.mouseClick(panel.open_btn, Qt.MouseButton.LeftButton)
    assert panel.session_state.text() == "Session is open"
    assert not panel.open_btn.isEnabled() and panel.close_btn.isEnabled()
    qtbot.keyClicks(panel.unlock_note, "fire drill")
    qtbot.mouseClick(panel.unlock_btn, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "Door unlocked"
    qtbot.mouseClick(panel.close_btn, Qt.MouseButton.LeftButton)
    assert panel.session_state.text() == "Session is closed"
    types = [e.record.type for e in window.door.flow.ledger.iter_envelopes()]
    assert types == ["session_open", "device_event", "session_close"]


def test_wrong_room_is_shown_as_a_claim_refusal(qtbot, tmp_path, make_window) -> None:
    window = make_window(
        ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True), room="B-202"
    )
    screen = window.applicant
    qtbot.mouseClick(screen.iin_btn, Qt.MouseButton.LeftButton)
    assert not screen.keypad.letters.isVisible()
    screen.keypad.type_text("990101300012")
    qtbot.mouseClick(screen.keypad.submit_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    assert screen.result_title.text() == "You cannot check in here now"
    assert screen.result_detail.text() == "Your exam is in another room"
    assert screen.result.property("tone") == "warn"


def test_language_switch_changes_visible_texts(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True))
    screen = window.applicant
    texts = {}
    for lang in ("kk", "ru", "en"):
        qtbot.mouseClick(screen.lang_buttons[lang], Qt.MouseButton.LeftButton)
        assert screen.lang_buttons[lang].isChecked()
        texts[lang] = (
            screen.title.text(),
            screen.code_btn.text(),
            screen.iin_btn.text(),
            window.panel.login_btn.text(),
        )
    assert texts["kk"] == ("Қош келдіңіз", "Брондау коды", "ЖСН", "Кіру")
    assert texts["ru"] == ("Добро пожаловать", "Код бронирования", "ИИН", "Войти")
    assert texts["en"] == ("Welcome", "Booking code", "IIN", "Sign in")
    qtbot.mouseClick(screen.lang_buttons["kk"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.code_btn, Qt.MouseButton.LeftButton)
    assert screen.keypad.title.text() == "Брондау кодын енгізіңіз"


def test_camera_loss_shows_unavailable_and_recovers(qtbot, tmp_path, make_window) -> None:
    camera = FlakyCamera(_camera_folder(tmp_path, "img2.jpg"))
    window = make_window(camera)
    video = window.applicant.video
    qtbot.waitUntil(lambda: window.results_seen > 0, timeout=WAIT_MS)
    assert video.message == ""
    camera.plugged.clear()
    qtbot.waitUntil(lambda: video.message.startswith("Camera unavailable"), timeout=WAIT_MS)
    window.tr_.set_language("kk")
    assert video.message.startswith("Камера қолжетімсіз")
    seen = window.results_seen
    camera.plugged.set()
    qtbot.waitUntil(lambda: video.message == "", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.results_seen > seen, timeout=WAIT_MS)


def test_lockdown_ignores_escape_alt_f4_and_close(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True))
    window.enter_kiosk_mode(fullscreen=False)
    assert window.windowFlags() & Qt.WindowType.FramelessWindowHint
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.keyClick(window.applicant.code_btn, Qt.Key.Key_Escape)
    qtbot.keyClick(window, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.close()
    assert window.isVisible() and window.refused_closes == 1
    # Only a signed-in proctor gets out.
    window.show_proctor_panel()
    assert not window.panel.exit_btn.isVisible()
    qtbot.keyClicks(window.panel.id_edit, PROCTOR_ID)
    qtbot.keyClicks(window.panel.pin_edit, PROCTOR_PIN)
    qtbot.mouseClick(window.panel.login_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.panel.exit_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def test_countdown_reads_the_flows_clock(qtbot, tmp_path, engine, templates) -> None:
    """The window is handed no clock: its countdown must follow the flow's (fake) clock,
    not the wall clock, or it would disagree with the deadlines the flow enforces."""
    now = [500.0]
    source = ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True)
    door = build_door(tmp_path, engine, templates, source, clock=lambda: now[0])
    window = KioskWindow(door, Translator("en"), locked=False)  # not started: no frames
    qtbot.addWidget(window)
    try:
        assert window.door.flow.now_monotonic() == 500.0
        state = window.door.flow.claim(booking_code="AB12CD")
        assert state.name is StateName.CLAIMED
        window.applicant.update_countdown()
        timeout = window.door.flow.cfg.checkin.claim_timeout_s
        assert window.applicant.countdown.text() == f"{timeout:.0f} s left"
        now[0] += 45
        window.applicant.update_countdown()
        assert window.applicant.countdown.text() == f"{timeout - 45:.0f} s left"
    finally:
        window.shutdown()
        door.close()


def test_proctor_panel_shows_every_booked_name_whole(qtbot, tmp_path, engine, templates) -> None:
    """The Name column once showed "Aig…": it must be at least as wide as each name."""
    source = ImageFolderSource(_camera_folder(tmp_path, "img2.jpg"), loop=True)
    door = build_door(tmp_path, engine, templates, source)
    window = KioskWindow(door, Translator("en"), locked=False)  # not started: no frames
    qtbot.addWidget(window)
    try:
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        window.show_proctor_panel()
        panel = window.panel
        qtbot.keyClicks(panel.id_edit, PROCTOR_ID)
        qtbot.keyClicks(panel.pin_edit, PROCTOR_PIN)
        qtbot.mouseClick(panel.login_btn, Qt.MouseButton.LeftButton)
        assert panel.pages.currentIndex() == 1
        table = panel.table
        metrics = table.fontMetrics()
        for tr_lang in ("en", "ru", "kk"):  # header and status texts differ in length
            window.tr_.set_language(tr_lang)
            qtbot.wait(50)  # let the layout settle
            names = [table.item(r, 0).text() for r in range(table.rowCount())]
            assert names == ["Aigerim Sadykova", "Daniyar Omarov"]
            for name in names:
                assert table.columnWidth(0) >= metrics.horizontalAdvance(name), tr_lang
            # ...including the cell's own padding: nothing is elided.
            assert table.columnWidth(0) >= table.sizeHintForColumn(0), tr_lang
            for col in (1, 2, 3):  # the others fit their contents
                assert table.columnWidth(col) >= table.sizeHintForColumn(col), (tr_lang, col)
            # ...and the room comes from the form beside it, not from a wider window.
            assert window.minimumSizeHint().width() <= 1280, tr_lang
    finally:
        window.shutdown()
        door.close()
