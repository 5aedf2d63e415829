# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
"""Every screen at the panel sizes kiosks ship with (1024x600, 1280x800, 1920x1080 and a
portrait 1080x1920), in Kazakh, Russian and English: the window fits, and no visible
label or button is cut (a wrapped label gets the height its lines need, a button the
width its text needs, and every one lies inside the window). Plus the colours: every
text has at least 4.5:1 contrast, and the results differ in lightness, not hue alone.
Real widgets, offscreen, on a real door that is not started (no camera needed)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QWidget,
)
from ui_kit import build_door, camera_folder, templates  # noqa: F401

from kiosk.camera import CameraStatus, ImageFolderSource
from kiosk.checkin.decision import CheckinDecision, Decision, Reason
from kiosk.checkin.flow import FlowState, StateName
from kiosk.checkin.states import ApplicantView, NextStep
from kiosk.ui.app import KioskWindow
from kiosk.ui.i18n import Translator, latin_words
from kiosk.ui.theme import BACKGROUND, BUTTON, MUTED_TEXT, TONE_BACKGROUND, TONE_TEXT, contrast

SIZES = [(1024, 600), (1280, 800), (1920, 1080), (1080, 1920)]
RID = "01930000-0000-7000-8000-00000000abcd"
PERSON = ApplicantView("app-0", "Aigerim Sadykova", "12")


def _decision(decision: Decision, reason: Reason) -> CheckinDecision:
    return CheckinDecision(decision, reason, "app-0", RID, 1)


RESULTS = {
    "accepted": FlowState(
        StateName.DECISION,
        Reason.MATCHED,
        applicant=PERSON,
        decision=_decision(Decision.ACCEPTED, Reason.MATCHED),
        next_step=NextStep.GO_IN,
    ),
    "try_again": FlowState(
        StateName.DECISION,
        Reason.NO_MATCH,
        applicant=PERSON,
        decision=_decision(Decision.REJECTED, Reason.NO_MATCH),
        next_step=NextStep.TRY_AGAIN,
        attempts_left=2,
    ),
    "held": FlowState(
        StateName.DECISION,
        Reason.SUSPECTED_STAND_IN,
        applicant=PERSON,
        decision=_decision(Decision.REJECTED, Reason.SUSPECTED_STAND_IN),
        next_step=NextStep.WAIT_FOR_PROCTOR,
        hold=True,
        reference="0427",
    ),
    "wrong_room": FlowState(
        StateName.DECISION,
        Reason.WRONG_ROOM,
        applicant=PERSON,
        decision=_decision(Decision.NEEDS_PROCTOR, Reason.WRONG_ROOM),
        next_step=NextStep.GO_TO_ROOM,
        go_to_room="B-202",
    ),
}


def cut_widgets(window: QWidget) -> list[str]:
    """Visible labels and buttons that are cut: outside the window, narrower than their
    text, or shorter than their wrapped lines. Content inside a scroll area may lie
    outside the window (it scrolls), but must still be whole."""
    problems = []
    frame = QRect(QPoint(0, 0), window.size())
    for w in window.findChildren(QWidget):
        if not isinstance(w, (QLabel, QPushButton)) or not w.isVisible() or not w.text():
            continue
        if w.objectName() == "proctor_corner":
            continue
        name = f"{type(w).__name__}({w.objectName() or w.text()[:30]!r})"
        in_scroll = _inside_scroll_area(w)
        top_left = w.mapTo(window, QPoint(0, 0))
        if not in_scroll and not frame.contains(QRect(top_left, w.size())):
            problems.append(f"{name} outside the window at {top_left.x()},{top_left.y()}")
        if isinstance(w, QLabel) and w.wordWrap():
            need = w.heightForWidth(w.contentsRect().width())
            if need > w.height() + 1:
                problems.append(f"{name} needs {need} px height, has {w.height()}")
        elif w.width() + 1 < w.minimumSizeHint().width():
            problems.append(f"{name} needs {w.minimumSizeHint().width()} px, has {w.width()}")
    return problems


def _inside_scroll_area(w: QWidget) -> bool:
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


@pytest.fixture
def window(qtbot, tmp_path, engine, templates):
    now = [100.0]
    source = ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True)
    # Cyrillic names: the Latin-script scan below must see only the kiosk's own words.
    door = build_door(
        tmp_path,
        engine,
        templates,
        source,
        clock=lambda: now[0],
        names=("Айгерим Садыкова", "Данияр Омаров"),
        proctor_name="Гульнара Ахметова",
    )
    w = KioskWindow(door, Translator("kk"), locked=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()
    door.close()


def _screens(window: KioskWindow):
    """(name, how to get there) for every screen an applicant or proctor can see."""
    screen, panel = window.applicant, window.panel

    def live(state: FlowState):
        return lambda: (window.show_applicant(), screen.show_state(state))

    def result(state: FlowState):
        return lambda: (window.show_applicant(), screen.show_state(state))

    def keypad(kind: str):
        def go():
            window.show_applicant()
            screen.show_state(FlowState(StateName.IDLE))
            screen._open_keypad(kind)
            screen.keypad.type_text("990101" if kind == "iin" else "AB12CD")

        return go

    def proctor_main():
        window.show_proctor_panel()
        panel.sign_in("p1", "2580")

    def confirm():
        proctor_main()
        panel._ask_exit()

    yield "idle", live(FlowState(StateName.IDLE))
    yield (
        "liveness",
        live(FlowState(StateName.LIVENESS, prompt="turn_left", applicant=PERSON, progress=0.5)),
    )
    yield (
        "liveness_blink",
        live(FlowState(StateName.LIVENESS, prompt="blink", applicant=PERSON, progress=0.5)),
    )
    yield "keypad_iin", keypad("iin")
    yield "keypad_code", keypad("booking_code")
    for name, state in RESULTS.items():
        yield f"result_{name}", result(state)
    yield "help", lambda: (window.show_applicant(), screen.show_help())
    yield (
        "camera_down",
        lambda: (
            screen.end_help(),
            screen.show_state(FlowState(StateName.IDLE)),
            screen.set_camera_status(CameraStatus.LOST),
        ),
    )
    yield (
        "proctor_login",
        lambda: (screen.set_camera_status(CameraStatus.LIVE), window.show_proctor_panel()),
    )
    yield "proctor_main", proctor_main
    yield "proctor_confirm", confirm


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_screen_fits_uncut(qtbot, window, width, height) -> None:
    window.resize(width, height)
    problems = []
    for lang in ("kk", "ru", "en"):
        window.tr_.set_language(lang)
        window.panel_tr.set_language(lang)
        for name, go in _screens(window):
            go()
            qtbot.wait(1)  # let the layouts run
            hint = window.minimumSizeHint()
            if hint.width() > width or hint.height() > height:
                problems.append(f"{lang} {name}: window needs {hint.width()}x{hint.height()}")
            problems += [f"{lang} {name}: {p}" for p in cut_widgets(window)]
    assert problems == []


def test_portrait_stacks_camera_over_words(qtbot, window) -> None:
    screen = window.applicant
    window.resize(1080, 1920)
    qtbot.wait(1)
    video, title = screen.video.geometry(), screen.title.mapTo(screen, QPoint(0, 0))
    assert title.y() > video.bottom()  # below the camera, not beside it
    window.resize(1280, 800)
    qtbot.wait(1)
    assert screen.title.mapTo(screen, QPoint(0, 0)).x() > screen.video.geometry().right()


def test_text_contrast_and_results_told_apart_without_hue() -> None:
    for tone, bg in TONE_BACKGROUND.items():
        assert contrast(TONE_TEXT[tone], bg) >= 4.5, tone
    for kind, bg in BUTTON.items():
        assert contrast("#ffffff", bg) >= 4.5, kind
    assert contrast(MUTED_TEXT, BACKGROUND) >= 4.5
    # Lightness apart: a reader who cannot tell red from green still sees three results.
    for a, b in itertools.combinations(TONE_BACKGROUND.values(), 2):
        assert contrast(a, b) >= 2.0, (a, b)


def test_result_action_is_as_large_as_the_headline(qtbot, window) -> None:
    screen = window.applicant
    for state in RESULTS.values():
        screen.show_state(replace(state))
        title, action = screen.result_title.font(), screen.result_next.font()
        assert action.pixelSize() == title.pixelSize() >= 44
        assert screen.result_detail.font().pixelSize() < title.pixelSize()
        # The drawn colours are the tone's (black on amber, white on green and red).
        tone = screen.result.property("tone")
        for label in (screen.result_title, screen.result_detail, screen.result_next):
            assert label.palette().color(QPalette.ColorRole.WindowText).name() == TONE_TEXT[tone]


def visible_texts(window: QWidget) -> list[tuple[str, str]]:
    """(widget, text) for every text a person can read on the current screen."""
    out = []
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.property("lang"):
            continue  # a language button names its language in that language: "English"
        name = w.objectName() or type(w).__name__
        if isinstance(w, (QLabel, QPushButton)):
            out.append((name, w.text()))
        elif isinstance(w, QGroupBox):
            out.append((name, w.title()))
        elif isinstance(w, QLineEdit):
            out.append((name, w.placeholderText()))
        elif isinstance(w, QComboBox):
            out += [(name, w.itemText(i)) for i in range(w.count())]
        elif isinstance(w, QTableWidget):
            for col in range(w.columnCount()):
                out.append((name, w.horizontalHeaderItem(col).text()))
                out += [(name, w.item(r, col).text()) for r in range(w.rowCount()) if col != 2]
    return out


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_kk_and_ru_screens_show_no_english_or_internal_names(qtbot, window, lang) -> None:
    """Every screen rendered in Kazakh or Russian: no Latin-script word but the few a
    native text uses too (QR, PIN; see `kiosk.ui.i18n.latin_words`). Booking codes
    (the table's third column) are data, not words, and are left out."""
    window.resize(1280, 800)
    window.tr_.set_language(lang)
    window.panel_tr.set_language(lang)
    found = []
    for name, go in _screens(window):
        go()
        found += [(name, w, t) for w, t in visible_texts(window) if latin_words(t)]
    assert found == [], found
