"""Keeps the app alive on PySide6 builds that under-count references to ``None``.

Measured on PySide6 6.12.0 with CPython 3.11: every Qt call that returns ``void``
(``widget.update()``, ``label.setText()``, ``painter.drawImage()``,
``QApplication.processEvents()``...) hands back ``None`` without a new reference, so
``sys.getrefcount(None)`` falls by one per call. CPython ≥ 3.12 makes ``None`` immortal
and never notices; on 3.11 the count reaches zero after a few thousand calls and the
interpreter aborts with "Fatal Python error: none_dealloc". A kiosk repainting its camera
view 30 times a second would die within seconds.

`NoneRefGuard` detects the leak once (a hundred void calls, count compared) and, only if
it is there, lifts None's reference count far above any reachable drain and tops it up
from a Qt timer. ``True`` and ``False`` get the same treatment: a benchmark run that
survived the None drain still died at exit with "bool_dealloc". Raising the count of an
object that is never freed is harmless; it costs no memory. Remove this module once the
project requires a PySide6 without the bug or Python ≥ 3.12.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

HEADROOM = 1_000_000_000  # a day of worst-case drain is ~10^8
TOP_UP_INTERVAL_MS = 1000


def leaks_none_refs(calls: int = 100) -> bool:
    """Whether this PySide6 build loses a reference to None per void call."""
    if sys.version_info >= (3, 12):
        return False  # None is immortal: its count no longer matters
    from PySide6.QtCore import QPoint

    point = QPoint()
    before = sys.getrefcount(None)
    for _ in range(calls):
        point.setX(1)
    return sys.getrefcount(None) < before - calls // 2


class NoneRefGuard:
    """Holds the reference counts of None, True and False at a floor far above zero."""

    def __init__(self) -> None:
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t).
        self._counts = [ctypes.c_ssize_t.from_address(id(obj)) for obj in (None, True, False)]
        self._floors = [c.value + HEADROOM for c in self._counts]
        self.restored = 0
        self.top_up()

    def top_up(self) -> int:
        """Put back what the bindings took since last time; returns how many."""
        total = 0
        for count, floor in zip(self._counts, self._floors, strict=True):
            missing = floor - count.value
            if missing > 0:
                count.value += missing
                total += missing
        self.restored += total
        return total


_guard: NoneRefGuard | None = None
_checked = False


def install_none_guard() -> NoneRefGuard | None:
    """Idempotent: detect the leak once, then keep None topped up from a timer on the
    running QCoreApplication (the worker thread also tops up after every frame)."""
    global _guard, _checked
    if _checked:
        return _guard
    _checked = True
    if not leaks_none_refs():
        return None
    import PySide6
    from PySide6.QtCore import QCoreApplication, QTimer

    _guard = NoneRefGuard()
    log.warning(
        "PySide6 %s on Python %d.%d loses references to None; compensating (see %s)",
        PySide6.__version__,
        *sys.version_info[:2],
        __name__,
    )
    app = QCoreApplication.instance()
    if app is not None:
        timer = QTimer(app, interval=TOP_UP_INTERVAL_MS)
        timer.timeout.connect(_guard.top_up)
        timer.start()
    return _guard


def top_up_none() -> None:
    """Cheap; call from long-running non-UI loops that touch Qt."""
    if _guard is not None:
        _guard.top_up()


def drop_opencv_qt_paths() -> list[str]:
    """Forget the Qt plugin/font paths that ``import cv2`` (opencv-python) puts in the
    environment. They point at OpenCV's own Qt build; PySide6 would then load OpenCV's
    xcb plugin and refuse to start on a real display ("Could not load the Qt platform
    plugin xcb ... even though it was found"). Call before creating the QApplication."""
    dropped = []
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(name, "")
        if value and f"{os.sep}cv2{os.sep}" in value + os.sep:
            del os.environ[name]
            dropped.append(name)
    if dropped:
        log.info("ignoring OpenCV's Qt paths: %s", ", ".join(dropped))
    return dropped
