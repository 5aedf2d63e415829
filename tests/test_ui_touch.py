"""The door driven by touch only, as on a kiosk without a keyboard: every action below
is a mouse press on a widget (what a touch screen sends); nothing is typed. Real face
engine, flow, signed ledger and proctor directory (tests/ui_kit.py)."""

# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from ui_kit import (  # noqa: F401  (fixtures used by name)
    IIN_0,
    PROCTOR_PIN,
    WAIT_MS,
    SwitchableCamera,
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
from kiosk.checkin.overrides import OverrideReason
from kiosk.ui.app import APPLICANT_IDLE_RESET_S, KioskWindow
from kiosk.ui.i18n import Translator
from kiosk.ui.proctor_panel import IDLE_SIGN_OUT_S, PAGE_CONFIRM, PAGE_LOGIN, PAGE_MAIN


def test_proctor_signs_in_overrides_with_reason_and_note_and_exits_by_touch(
    qtbot, tmp_path, make_window
) -> None:
    # Aigerim's booking, but Daniyar (another booked applicant) stands at the camera.
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img3.jpg"), loop=True))
    screen = window.applicant
    claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    state = window.door.flow.state
    assert state.hold  # a suspected stand-in waits for a proctor, with a code
    assert screen.result_title.text() == "We could not confirm it is you"
    assert screen.result_next.text() == "Please wait here: a proctor will come to you"
    assert screen.result_ref.text() == f"Your code: {state.reference}"
    assert (screen.result_icon.kind, screen.result.property("tone")) == ("cross", "bad")
    assert not screen.retry_btn.isVisible()

    # A short tap on the corner does nothing; a hold opens the sign-in keypad.
    qtbot.mouseClick(screen.corner, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is screen
    sign_in_by_touch(qtbot, window, pin="1357")  # wrong PIN first
    panel = window.panel
    assert panel.login.error.text() == "Wrong number or PIN"
    assert panel.account is None and panel.login.keypad.kind.name == "pin"
    tap_keys(qtbot, panel.login.keypad, PROCTOR_PIN)
    tap(qtbot, panel.login.keypad.submit_btn)
    assert panel.account is not None and panel.pages.currentIndex() == PAGE_MAIN
    assert panel.who.text() == "Signed in: Gulnara Proctor (proctor)"

    # The held case is named by its code and preselected in the override form.
    assert panel.held_box.isVisible()
    assert panel.held_label.text().startswith(f"{state.reference}: Aigerim Sadykova")
    assert panel.refusal_combo.currentText().endswith(state.reference)
    assert panel.table.item(0, 3).text() == "Refused"
    # Reason and note by touch: the combo's list, then ready sentences.
    panel.reason_combo.showPopup()
    view = panel.reason_combo.view()
    row = panel.reason_combo.findData(OverrideReason.DOCUMENT_CHECKED_MANUALLY)
    where = view.visualRect(view.model().index(row, 0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert panel.reason_combo.currentData() == OverrideReason.DOCUMENT_CHECKED_MANUALLY
    tap(qtbot, panel.override.quick["id_checked"])
    tap(qtbot, panel.override.quick["photo_old"])
    assert panel.note_edit.toPlainText() == (
        "Identity document checked against the booking. "
        "The booking photo is old; the person matches the identity document."
    )
    tap(qtbot, panel.override_btn)
    assert panel.status.text() == "Admission recorded and signed"
    (override,) = records(window, "override")
    assert (override["reason"], override["applicant_id"]) == ("document_checked_manually", "app-0")
    assert override["note"].startswith("Identity document checked")
    assert panel.table.item(0, 3).text() == "Admitted by override"
    assert not panel.held_box.isVisible()

    # Exit asks first; "No" keeps the kiosk running, "Yes" closes it.
    assert panel.exit_btn.property("danger") and panel.sign_out_btn.property("quiet")
    tap(qtbot, panel.exit_btn)
    assert panel.pages.currentIndex() == PAGE_CONFIRM
    assert panel.confirm.question.text() == "Close the kiosk program?"
    tap(qtbot, panel.confirm.no_btn)
    assert panel.pages.currentIndex() == PAGE_MAIN and window.isVisible()
    tap(qtbot, panel.exit_btn)
    tap(qtbot, panel.confirm.yes_btn)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def test_applicant_fails_once_tries_again_and_passes(qtbot, tmp_path, make_window) -> None:
    camera = SwitchableCamera(camera_folder(tmp_path, "img2.jpg"))
    camera.show("checkin/img42.jpg")  # someone not on the roster, holding Aigerim's code
    window = make_window(camera)
    screen = window.applicant
    claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    assert window.door.flow.state.decision.reason.value == "no_match"
    assert screen.result_detail.text() == "The face check did not succeed"
    assert screen.result_next.text() == "Please try again. Attempts left: 2"
    assert (screen.result_icon.kind, screen.result.property("tone")) == ("retry", "warn")
    assert window.sounds.played == ["try_again"]
    camera.show(None)  # now Aigerim herself; her frames reach the engine before the retry
    seen = window.results_seen
    qtbot.waitUntil(lambda: window.results_seen >= seen + 3, timeout=WAIT_MS)
    tap(qtbot, screen.retry_btn)
    qtbot.waitUntil(lambda: screen.result_title.text() == "Welcome, A. S.", timeout=WAIT_MS)
    assert screen.result_next.text() == "Please go in"
    bodies = records(window, "checkin")
    assert [(b["attempt"], b["decision"]) for b in bodies] == [(1, "rejected"), (2, "accepted")]


def test_keypad_refuses_a_bad_iin_inline_without_a_record(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    screen, keypad = window.applicant, window.applicant.keypad
    tap(qtbot, screen.iin_btn)
    tap_keys(qtbot, keypad, "12345")
    assert keypad.counter.text() == "5 / 12"
    assert keypad.display.text() == "•2345"  # masked but the last four
    assert not keypad.submit_btn.isEnabled() and keypad.error.text() == ""
    bad = IIN_0[:11] + str((int(IIN_0[11]) + 1) % 10)  # one digit slipped
    tap(qtbot, keypad.clear_btn)
    tap_keys(qtbot, keypad, bad)
    assert keypad.counter.text() == "12 / 12"
    assert keypad.display.text() == "•••••• ••" + bad[-4:]
    assert keypad.error.text() == "Please check the number: this is not a valid IIN"
    assert not keypad.submit_btn.isEnabled()
    # A press on the disabled key does nothing.
    qtbot.mouseClick(keypad.submit_btn, Qt.MouseButton.LeftButton)
    assert screen.pages.currentIndex() == screen.PAGE_KEYPAD
    assert records(window, "checkin") == []
    tap(qtbot, keypad.back_btn)
    tap(qtbot, keypad.keys[IIN_0[11]])
    assert keypad.error.text() == "" and keypad.submit_btn.isEnabled()
    tap(qtbot, keypad.submit_btn)
    assert keypad.text == ""  # the number does not wait for the next person
    qtbot.waitUntil(lambda: window.door.flow.state.name.value != "idle", timeout=WAIT_MS)


def test_idle_door_forgets_typing_and_language_and_signs_a_proctor_out(
    qtbot, tmp_path, engine, templates
) -> None:
    now = [100.0]
    source = ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True)
    door = build_door(tmp_path, engine, templates, source, clock=lambda: now[0])
    window = KioskWindow(door, Translator("kk"), locked=False)  # not started: no frames
    qtbot.addWidget(window)
    try:
        window.show()
        screen = window.applicant
        tap(qtbot, screen.lang_buttons["ru"])
        tap(qtbot, screen.iin_btn)
        tap_keys(qtbot, screen.keypad, "9901")
        now[0] += APPLICANT_IDLE_RESET_S - 1
        window.check_idle()
        assert screen.keypad.text == "9901" and window.tr_.language == "ru"
        now[0] += 1
        window.check_idle()
        assert screen.keypad.text == "" and window.tr_.language == "kk"
        assert screen.pages.currentIndex() == screen.PAGE_LIVE

        sign_in_by_touch(qtbot, window)
        assert window.panel.account is not None
        tap(
            qtbot, window.panel.session_box.findChild(type(window.panel.close_btn), "session_close")
        )
        assert window.panel.pages.currentIndex() == PAGE_CONFIRM  # close session asks first
        tap(qtbot, window.panel.confirm.no_btn)
        assert window.door.flow.book.is_open
        now[0] += IDLE_SIGN_OUT_S
        window.check_idle()
        assert window.panel.account is None and window.stack.currentWidget() is screen
        assert window.panel.pages.currentIndex() == PAGE_LOGIN
    finally:
        window.shutdown()
        door.close()


def test_a_covered_lens_is_said_not_blamed_on_the_person(qtbot, tmp_path, make_window) -> None:
    camera = SwitchableCamera(camera_folder(tmp_path, "img2.jpg"))
    window = make_window(camera)
    video = window.applicant.video
    qtbot.waitUntil(lambda: window.results_seen > 0, timeout=WAIT_MS)
    camera.show(np.full((480, 640, 3), 12, np.uint8))  # a thumb over the lens
    qtbot.waitUntil(
        lambda: video.message == "The camera cannot see: is something covering it?",
        timeout=WAIT_MS,
    )
    camera.show(None)
    qtbot.waitUntil(lambda: video.message == "", timeout=WAIT_MS)
