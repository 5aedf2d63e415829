"""On-screen keypad for a booking code or an IIN: the kiosk has no keyboard, and big
keys work for gloved or shaky hands. IIN mode shows digits only; booking-code mode adds
letters (codes are normalised by the roster, so case and dashes do not matter)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.i18n import Translator

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I/O: booking codes avoid them next to 1/0
MAX_LEN = {"iin": 12, "booking_code": 16}


class Keypad(QWidget):
    submitted = Signal(str, str)  # kind ("iin" | "booking_code"), text
    cancelled = Signal()

    def __init__(self, tr: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.kind = "booking_code"
        self.title = QLabel(objectName="detail", alignment=Qt.AlignmentFlag.AlignCenter)
        self.display = QLineEdit(readOnly=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.display.setObjectName("keypad_display")
        grid = QGridLayout()
        self.keys: dict[str, QPushButton] = {}
        for i, ch in enumerate("123456789"):
            grid.addWidget(self._key(ch), i // 3, i % 3)
        self.clear_btn = QPushButton(clicked=self.display.clear)
        self.back_btn = QPushButton("⌫", clicked=self.display.backspace)
        # The clear key carries a word ("Стереть"), so it keeps the normal button size.
        self.back_btn.setProperty("key", True)
        grid.addWidget(self.clear_btn, 3, 0)
        grid.addWidget(self._key("0"), 3, 1)
        grid.addWidget(self.back_btn, 3, 2)
        self.letters = QWidget()
        letters = QGridLayout(self.letters)
        letters.setContentsMargins(0, 0, 0, 0)
        for i, ch in enumerate(LETTERS):
            letters.addWidget(self._key(ch), i // 6, i % 6)
        self.submit_btn = QPushButton(clicked=self._submit)
        self.submit_btn.setObjectName("keypad_submit")
        self.cancel_btn = QPushButton(clicked=lambda: self.cancelled.emit())
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.submit_btn)
        keys = QHBoxLayout()
        keys.addLayout(grid)
        keys.addWidget(self.letters)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.display)
        layout.addLayout(keys)
        layout.addLayout(buttons)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    def _key(self, ch: str) -> QPushButton:
        b = QPushButton(ch, clicked=lambda: self.type_text(ch))
        b.setProperty("key", True)
        self.keys[ch] = b
        return b

    def type_text(self, text: str) -> None:
        """Append characters as if tapped (also what tests use)."""
        for ch in text:
            if len(self.display.text()) >= MAX_LEN[self.kind]:
                return
            if self.kind == "iin" and not ch.isdigit():
                continue
            self.display.setText(self.display.text() + ch)

    def start(self, kind: str) -> None:
        self.kind = kind
        self.display.clear()
        self.letters.setVisible(kind == "booking_code")
        self.retranslate()

    def _submit(self) -> None:
        text = self.display.text().strip()
        if text:
            self.submitted.emit(self.kind, text)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.title.setText(t(f"keypad.title.{self.kind}"))
        self.clear_btn.setText(t("common.clear"))
        self.submit_btn.setText(t("keypad.submit"))
        self.cancel_btn.setText(t("common.cancel"))
