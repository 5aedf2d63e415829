"""The kiosk window end to end, offscreen: real widgets, real face engine, real flow,
ledger and proctor directory, with an image-folder camera replaying real face photos
(see tests/ui_kit.py). Everything is waited for with qtbot.waitUntil and asserted on
visible texts."""

# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
from __future__ import annotations

from PySide6.QtCore import Qt
from ui_kit import (  # noqa: F401  (fixtures used by name)
    IIN_0,
    ROOM,
    WAIT_MS,
    FlakyCamera,
    ScriptedLiveness,
    build_door,
    camera_folder,
    claim_by_code,
    make_window,
    records,
    sign_in_by_touch,
    tap,
    tap_keys,
    templates,
)

from kiosk.camera import ImageFolderSource
from kiosk.checkin.flow import StateName
from kiosk.ui.app import KioskWindow
from kiosk.ui.i18n import Translator


def test_full_checkin_through_the_widgets(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), fps=15, loop=True))
    screen = window.applicant
    assert screen.title.text() == "Welcome"
    assert screen.video.mirror  # the applicant sees a mirror
    # The live view gets frames and the guide turns green on a good face.
    qtbot.waitUntil(lambda: window.results_seen > 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: screen.video.guide_state == "good", timeout=WAIT_MS)

    seen_prompts: set[str] = set()
    window.door.flow.subscribe(lambda s: seen_prompts.add(str(s.prompt)))
    claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    # Initials and the seat, never the full name on a screen the queue can read.
    assert screen.result_title.text() == "Welcome, A. S."
    assert screen.result_detail.text() == f"Room {ROOM}, seat 12"
    assert screen.result_next.text() == "Please go in"
    assert (screen.result_icon.kind, screen.result.property("tone")) == ("check", "good")
    assert window.sounds.played == ["accepted"]
    assert "turn_left" in seen_prompts  # the liveness prompt went through the screen
    (body,) = records(window, "checkin")
    assert (body["decision"], body["applicant_id"]) == ("accepted", "app-0")
    assert window.door.flow.door_lock.releases == 1


def test_liveness_prompt_is_shown_translated_with_an_arrow(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), fps=15, loop=True))
    window.door.flow.liveness = ScriptedLiveness(frames=10_000)  # never finishes
    window.tr_.set_language("ru")
    claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: window.door.flow.state.name == StateName.LIVENESS, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: window.applicant.prompt.text() == "Поверните голову влево", timeout=WAIT_MS
    )
    assert window.applicant.title.text() == "Сделайте то, что показано на экране"
    assert window.applicant.video.hint == "left"  # mirrored: the applicant's left
    step = window.door.flow.cfg.liveness.step_timeout_s
    window.applicant.update_countdown()
    assert window.applicant.countdown.text() in {f"Осталось {s:.0f} с" for s in (step, step - 1)}


def test_wrong_room_names_the_right_one(qtbot, tmp_path, make_window) -> None:
    window = make_window(
        ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True), room="B-202"
    )
    screen = window.applicant
    tap(qtbot, screen.iin_btn)
    assert not screen.keypad.letter_pads["ABCDEFGHIJKLMNOPQRSTUVWXYZ"].isVisible()
    tap_keys(qtbot, screen.keypad, IIN_0)
    tap(qtbot, screen.keypad.submit_btn)
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    assert screen.result_title.text() == "You cannot check in here right now"
    assert screen.result_detail.text() == "Your exam is in another room"
    assert screen.result_next.text() == f"Please go to room {ROOM}"
    assert (screen.result.property("tone"), screen.result_icon.kind) == ("warn", "hand")
    assert not screen.retry_btn.isVisible()


def test_language_switch_changes_visible_texts(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    screen = window.applicant
    texts = {}
    for lang in ("kk", "ru", "en"):
        tap(qtbot, screen.lang_buttons[lang])
        assert screen.lang_buttons[lang].isChecked()
        texts[lang] = (
            screen.title.text(),
            screen.title_alt.text() if screen.title_alt.isVisible() else "",
            screen.code_btn.text(),
            screen.iin_btn.text(),
            screen.staff_btn.text(),
        )
    # Kazakh and Russian greet side by side.
    assert texts["kk"] == (
        "Қош келдіңіз",
        "Добро пожаловать",
        "Жазылу коды",
        "ЖСН",
        "Қызметкерді шақыру",
    )
    assert texts["ru"] == (
        "Добро пожаловать",
        "Қош келдіңіз",
        "Код записи",
        "ИИН",
        "Позвать сотрудника",
    )
    assert texts["en"] == ("Welcome", "", "Booking code", "IIN", "Call staff")
    tap(qtbot, screen.lang_buttons["kk"])
    tap(qtbot, screen.code_btn)
    assert screen.keypad.title.text() == "Жазылу кодын енгізіңіз"


def test_camera_loss_offers_only_keypad_and_staff_and_recovers(
    qtbot, tmp_path, make_window
) -> None:
    camera = FlakyCamera(camera_folder(tmp_path, "img2.jpg"))
    window = make_window(camera)
    screen = window.applicant
    video = screen.video
    qtbot.waitUntil(lambda: window.results_seen > 0, timeout=WAIT_MS)
    assert video.message == ""
    assert "QR" in screen.detail.text()
    camera.plugged.clear()
    qtbot.waitUntil(lambda: video.message.startswith("Camera unavailable"), timeout=WAIT_MS)
    assert "QR" not in screen.detail.text()  # no QR invitation without a camera
    assert screen.code_btn.isVisible() and screen.staff_btn.isVisible()
    window.tr_.set_language("kk")
    assert video.message.startswith("Камера қолжетімсіз")
    seen = window.results_seen
    camera.plugged.set()
    qtbot.waitUntil(lambda: video.message == "", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.results_seen > seen, timeout=WAIT_MS)


def test_lockdown_ignores_escape_alt_f4_and_close(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    window.enter_kiosk_mode(fullscreen=False)
    assert window.windowFlags() & Qt.WindowType.FramelessWindowHint
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.keyClick(window.applicant.code_btn, Qt.Key.Key_Escape)
    qtbot.keyClick(window, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.close()
    assert window.isVisible() and window.refused_closes == 1
    # Only a signed-in proctor gets out (tests/test_ui_touch.py walks that by touch).
    window.show_proctor_panel()
    assert window.stack.currentWidget() is window.panel
    assert not window.panel.exit_btn.isVisible()


def test_countdown_reads_the_flows_clock(qtbot, tmp_path, engine, templates) -> None:
    """The window is handed no clock: its countdown must follow the flow's (fake) clock,
    not the wall clock, or it would disagree with the deadlines the flow enforces."""
    now = [500.0]
    source = ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True)
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


def test_proctor_panel_shows_every_booked_name_whole(qtbot, tmp_path, make_window) -> None:
    """The Name column once showed "Aig…": it must be at least as wide as each name."""
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    qtbot.waitExposed(window)
    sign_in_by_touch(qtbot, window)
    panel = window.panel
    assert panel.account is not None
    table = panel.table
    metrics = table.fontMetrics()
    for lang in ("en", "ru", "kk"):  # header and status texts differ in length
        tap(qtbot, panel.lang_buttons[lang])
        assert panel.lang_buttons[lang].isChecked()
        names = [table.item(r, 0).text() for r in range(table.rowCount())]
        assert names == ["Aigerim Sadykova", "Daniyar Omarov"]
        widest = max(metrics.horizontalAdvance(n) for n in names)
        qtbot.waitUntil(lambda widest=widest: table.columnWidth(0) >= widest)
        assert window.minimumSizeHint().width() <= 1280, lang


def test_a_usb_keyboard_still_types_on_the_proctor_keypad(qtbot, tmp_path, make_window) -> None:
    """Where a keyboard is attached, Ctrl+Shift+P and typed keys work as taps do."""
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    window.show_proctor_panel()
    keypad = window.panel.login.keypad
    qtbot.keyClicks(keypad, "p1")
    qtbot.keyClick(keypad, Qt.Key.Key_Return)
    assert keypad.kind.name == "pin"
    qtbot.keyClicks(keypad, "2580")
    assert keypad.display.text() == "••••"
    qtbot.keyClick(keypad, Qt.Key.Key_Return)
    assert window.panel.account is not None
