# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
"""The proctor's manual door unlock by touch only, as on a kiosk without a keyboard: the
reason is a tapped sentence in the panel's language, and the unlock is the signed
`door_unlock` device event carrying it. A typed note still works. Real face engine, flow,
signed ledger and proctor directory (tests/ui_kit.py)."""

from __future__ import annotations

from ui_kit import (  # noqa: F401  (fixtures used by name)
    PROCTOR_ID,
    build_door,
    camera_folder,
    make_window,
    records,
    sign_in_by_touch,
    tap,
    templates,
)

from kiosk.camera import ImageFolderSource
from kiosk.protocol.bodies import DoorUnlockBody, parse_body
from kiosk.ui.unlock_form import UNLOCK_NOTES

EMERGENCY_RU = "Чрезвычайная ситуация или эвакуация: дверь открыта для всех."


def _unlocks(window) -> list[dict]:
    return [b for b in records(window, "device_event") if b["event"] == "door_unlock"]


def test_proctor_unlocks_the_door_with_taps_only(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    sign_in_by_touch(qtbot, window)
    panel = window.panel
    tap(qtbot, panel.lang_buttons["ru"])
    form = panel.unlock_form
    assert form.title() == "Дверь"
    assert form.note_edit.placeholderText() == "Почему открывается дверь? (обязательно)"
    assert [form.quick[k].text() for k in UNLOCK_NOTES] == [
        "Сотрудник",
        "Проверяющий",
        "Эвакуация",
        "Медпомощь",
        "Киоск или замок",
    ]

    # Without a reason the door stays shut, and the panel says why in Russian.
    tap(qtbot, panel.unlock_btn)
    assert panel.status.text().endswith(
        "Укажите, почему открывается дверь (хотя бы несколько слов)"
    )
    assert _unlocks(window) == [] and window.door.flow.door_lock.releases == 0

    tap(qtbot, form.quick["emergency"])
    assert form.note_edit.text() == EMERGENCY_RU
    tap(qtbot, panel.unlock_btn)
    assert panel.status.text() == "Дверь открыта"
    (body,) = _unlocks(window)
    assert body == {
        "event": "door_unlock",
        "proctor_id": PROCTOR_ID,
        "role": "proctor",
        "note": EMERGENCY_RU,
        "session_id": "S-1",
    }
    assert parse_body("device_event", body) == DoorUnlockBody(
        event="door_unlock",
        proctor_id=PROCTOR_ID,
        role="proctor",
        note=EMERGENCY_RU,
        session_id="S-1",
    )
    assert window.door.flow.door_lock.releases == 1
    assert form.note_edit.text() == ""  # ready for the next unlock


def test_a_typed_note_and_tapped_sentences_go_together(qtbot, tmp_path, make_window) -> None:
    window = make_window(ImageFolderSource(camera_folder(tmp_path, "img2.jpg"), loop=True))
    sign_in_by_touch(qtbot, window)
    form = window.panel.unlock_form
    qtbot.keyClicks(form.note_edit, "Fire alarm test.")  # a USB keyboard
    tap(qtbot, form.quick["staff_entry"])
    expected = "Fire alarm test. The door was opened for a member of the exam centre staff."
    assert form.note_edit.text() == expected
    tap(qtbot, form.chips.clear_btn)
    assert form.note_edit.text() == ""
    tap(qtbot, form.quick["kiosk_fault"])
    tap(qtbot, window.panel.unlock_btn)
    (body,) = _unlocks(window)
    assert body["note"] == "The kiosk or the door lock failed; identity checked by the proctor."
