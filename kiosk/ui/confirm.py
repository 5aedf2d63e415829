"""A yes/no question inside a screen (not a modal dialog box): large buttons a finger
can hit, the risky answer in the danger colour, and "no" as the calm way out."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class ConfirmPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.question.setWordWrap(True)
        self.detail = QLabel(objectName="detail", alignment=Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.yes_btn = QPushButton(objectName="confirm_yes", clicked=self._yes)
        self.yes_btn.setProperty("danger", True)
        self.no_btn = QPushButton(objectName="confirm_no", clicked=self._no)
        self.no_btn.setProperty("quiet", True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.no_btn)
        buttons.addWidget(self.yes_btn)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.question)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._on_yes: Callable[[], None] = lambda: None
        self._on_no: Callable[[], None] = lambda: None

    def ask(
        self,
        question: str,
        detail: str,
        yes: str,
        no: str,
        on_yes: Callable[[], None],
        on_no: Callable[[], None],
    ) -> None:
        self.question.setText(question)
        self.detail.setText(detail)
        self.yes_btn.setText(yes)
        self.no_btn.setText(no)
        self._on_yes, self._on_no = on_yes, on_no

    def _yes(self) -> None:
        self._on_yes()

    def _no(self) -> None:
        self._on_no()
