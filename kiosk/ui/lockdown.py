"""Kiosk lockdown: a frameless full-screen window that an applicant cannot close.

Esc, Alt+F4, Ctrl+W/Q and the window manager's close request are swallowed while locked;
the only way out is the proctor panel, after a proctor PIN (`unlock_and_close`). The
hidden key that opens the panel is handled by the app, not here.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

log = logging.getLogger(__name__)

_BLOCKED_SEQUENCES = (
    QKeySequence(Qt.Key.Key_Escape),
    QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_F4),
    QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_W),
    QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Q),
)


def _is_blocked(event: QKeyEvent) -> bool:
    combo = QKeySequence(event.keyCombination())
    return any(
        combo.matches(s) == QKeySequence.SequenceMatch.ExactMatch for s in _BLOCKED_SEQUENCES
    )


class LockdownWindow(QMainWindow):
    """Main window base: while `locked`, closing and escape keys do nothing."""

    close_refused = Signal()

    def __init__(self, parent: QWidget | None = None, *, locked: bool = True) -> None:
        super().__init__(parent)
        self.locked = locked
        self._allow_close = False
        self.refused_closes = 0
        app = QApplication.instance()
        if app is not None:
            # App-wide, so a focused child (keypad, line edit) cannot pass Esc through.
            app.installEventFilter(self)

    def enter_kiosk_mode(self, fullscreen: bool = True) -> None:
        """No title bar, no frame, above other windows, covering the screen."""
        if self.locked:
            self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
            self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        if fullscreen:
            self.showFullScreen()
        else:
            self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            self.locked
            and event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)
            and isinstance(event, QKeyEvent)
            and _is_blocked(event)
        ):
            if event.type() == QEvent.Type.KeyPress:
                log.info(
                    "lockdown: ignored key %s", QKeySequence(event.keyCombination()).toString()
                )
            event.accept()
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.locked and _is_blocked(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.locked and not self._allow_close:
            self.refused_closes += 1
            log.info("lockdown: close request ignored (proctor PIN needed)")
            event.ignore()
            self.close_refused.emit()
            return
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(event)

    def unlock_and_close(self) -> None:
        """Called by the proctor panel after a successful PIN."""
        log.warning("kiosk closed by a proctor")
        self._allow_close = True
        self.close()
