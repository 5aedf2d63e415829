"""The proctor's sign-in, by touch: the proctor number on the keypad, then the PIN.

Two steps on one keypad rather than two text fields, because a touch-only kiosk has no
keyboard to type into a field (the panel once opened only with Ctrl+Shift+P and asked
for an ID and PIN nobody could enter). A USB keyboard still works: the keypad takes
its keys too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiosk.ui.i18n import Translator
from kiosk.ui.keypad import Keypad


class ProctorLogin(QWidget):
    credentials = Signal(str, str)  # proctor id, PIN
    cancelled = Signal()

    def __init__(self, tr: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.proctor_id = ""
        self.title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.error = QLabel(objectName="prompt", alignment=Qt.AlignmentFlag.AlignCenter)
        self.error.setWordWrap(True)
        self.keypad = Keypad(tr, kinds=("proctor_id", "pin"))
        self.keypad.submitted.connect(self._submitted)
        self.keypad.cancelled.connect(self._cancelled)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.error)
        layout.addWidget(self.keypad, 1)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    def start(self) -> None:
        """Ask for the proctor number (the error of a previous try is forgotten)."""
        self.proctor_id = ""
        self.error.clear()
        self.keypad.start("proctor_id", "proctor.next")

    def ask_pin_again(self, message: str) -> None:
        """A wrong PIN: say so and ask for the PIN again, keeping the number typed."""
        self.error.setText(message)
        self.keypad.start("pin", "proctor.sign_in")

    def _submitted(self, kind: str, text: str) -> None:
        if kind == "proctor_id":
            self.proctor_id = text
            self.error.clear()
            self.keypad.start("pin", "proctor.sign_in")
        else:
            self.keypad.clear()  # the PIN never stays on the pad
            self.credentials.emit(self.proctor_id, text)

    def _cancelled(self) -> None:
        if self.keypad.kind.name == "pin":
            self.start()  # back to the number, not out of the panel
        else:
            self.cancelled.emit()

    def retranslate(self) -> None:
        self.title.setText(self.tr_.t("proctor.login_title"))
