"""The proctor's manual door unlock: why, then the button.

A manual unlock is a human exception, so the core writes it as a signed `door_unlock`
device event naming the proctor and the note (`kiosk.checkin.lock.DoorLock`). The note is
required, and the door has only a touch screen: the usual reasons (staff, an inspector,
an emergency, medical help, a kiosk or lock fault) are one-tap sentences in the proctor's
language (`kiosk.ui.note_chips`); a USB keyboard can still type any note.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.ui.i18n import Translator
from kiosk.ui.note_chips import NoteChips

UNLOCK_NOTES = ("staff_entry", "inspector", "emergency", "medical", "kiosk_fault")


class UnlockForm(QGroupBox):
    submit_requested = Signal()

    def __init__(self, tr: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.note_edit = QLineEdit(objectName="unlock_note")
        self.chips = NoteChips(tr, "unlock_note", UNLOCK_NOTES, self.note_edit)
        self.quick = self.chips.buttons
        self.submit_btn = QPushButton(
            objectName="unlock_door", clicked=lambda: self.submit_requested.emit()
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.note_edit)
        layout.addLayout(self.chips)
        layout.addWidget(self.submit_btn)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    def note(self) -> str:
        return self.note_edit.text()

    def retranslate(self) -> None:
        t = self.tr_.t
        self.setTitle(t("proctor.door_title"))
        self.submit_btn.setText(t("proctor.unlock_door"))
        self.note_edit.setPlaceholderText(t("proctor.unlock_note"))
