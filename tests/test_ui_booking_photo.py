"""The refused applicant's booking photo beside the proctor's override form (issue 15):
decoded in memory from the signed roster and scaled, or a sentence in the panel's language
when the roster has none. Real Qt widgets offscreen, real face engine for the door."""

# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
from __future__ import annotations

from PySide6.QtCore import QSize
from ui_kit import (  # noqa: F401  (fixtures used by name)
    PROCTOR_PIN,
    WAIT_MS,
    camera_folder,
    claim_by_code,
    make_window,
    sign_in_by_touch,
    tap,
    tap_keys,
    templates,
)

from kiosk.camera import ImageFolderSource
from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.session_book import Refusal
from kiosk.demo.roster import DEMO_DIR, booking_photo
from kiosk.ui.i18n import Translator
from kiosk.ui.override_form import PHOTO_BOX, OverrideForm
from kiosk.vision.imageio import read_image


def demo_photo(name: str) -> bytes:
    return booking_photo(read_image(DEMO_DIR / "enrol" / name))


def refusal(applicant_id: str | None, n: int) -> Refusal:
    record_id = f"00000000-0000-4000-8000-{n:012x}"  # record ids are UUIDs
    return Refusal(record_id, applicant_id, Decision.REJECTED, Reason.NO_MATCH)


def test_the_held_refusal_shows_its_booking_photo_beside_the_form(
    qtbot, tmp_path, make_window
) -> None:
    # Aigerim's booking, Daniyar at the camera: refused and held for the proctor.
    photo = demo_photo("A1002.jpg")  # 320x400, the largest a roster may carry
    window = make_window(
        ImageFolderSource(camera_folder(tmp_path, "img3.jpg"), loop=True), photos={"app-0": photo}
    )
    screen = window.applicant
    claim_by_code(qtbot, window, "AB12CD")
    qtbot.waitUntil(lambda: screen.pages.currentIndex() == screen.PAGE_RESULT, timeout=WAIT_MS)
    sign_in_by_touch(qtbot, window, pin=PROCTOR_PIN)
    form = window.panel.override
    assert form.refusal_combo.currentData().applicant_id == "app-0"
    shown = form.photo_label.pixmap()
    assert not shown.isNull() and shown.size() == QSize(120, 150) == PHOTO_BOX
    assert form.photo_label.isVisible()


def test_no_photo_says_so_in_the_panels_language(qtbot) -> None:
    tr = Translator("en")
    form = OverrideForm(tr)
    qtbot.addWidget(form)
    wide = demo_photo("A1005.jpg")  # 289x362: scaled to fit the box, aspect kept
    form.set_refusals(
        [refusal("app-0", 1), refusal("app-1", 2), refusal(None, 3)],
        {"app-0": "Aigerim", "app-1": "Daniyar"},
        {"app-0": wide, "app-1": None},
    )
    assert form.photo_label.pixmap().size() == QSize(119, 150)  # 289 * 150 / 362 = 119.75
    form.refusal_combo.setCurrentIndex(1)  # booked without a photo
    assert form.photo_label.pixmap().isNull()
    assert form.photo_label.text() == "No booking photo"
    tr.set_language("kk")
    assert form.photo_label.text() == "Тіркелу кезіндегі фото жоқ"
    tr.set_language("ru")
    assert form.photo_label.text() == "Нет фото из записи на экзамен"
    form.refusal_combo.setCurrentIndex(2)  # an unknown person: nobody's photo
    assert form.photo_label.pixmap().isNull()
    assert form.photo_label.text() == "Нет фото из записи на экзамен"
    form.refusal_combo.setCurrentIndex(0)
    assert form.photo_label.pixmap().size() == QSize(119, 150)
    form.set_refusals([], {})  # nothing to override: no stale photo left behind
    assert form.photo_label.pixmap().isNull()
    assert form.photo_label.text() == "Нет фото из записи на экзамен"
