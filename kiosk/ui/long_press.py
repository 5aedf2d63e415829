"""The proctor's way in on a touch screen: hold an unmarked corner for a few seconds.

Unmarked so applicants do not poke it; a hold rather than a tap so a brush of the hand
does nothing; and what it opens is only the sign-in keypad (the PIN is the real lock).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

HOLD_MS = 3000


class LongPressCorner(QWidget):
    activated = Signal()

    def __init__(self, parent: QWidget | None = None, *, hold_ms: int = HOLD_MS) -> None:
        super().__init__(parent)
        self.setObjectName("proctor_corner")
        self.setFixedSize(56, 56)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.timer = QTimer(self, singleShot=True, interval=hold_ms)
        self.timer.timeout.connect(self.activated.emit)

    @property
    def hold_ms(self) -> int:
        return self.timer.interval()

    @hold_ms.setter
    def hold_ms(self, value: int) -> None:
        self.timer.setInterval(value)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.timer.start()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.timer.stop()  # let go too early: nothing happens
        event.accept()
