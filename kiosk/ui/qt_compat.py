"""Qt start-up hazards, checked before the kiosk trusts the bindings.

PySide6 6.12.0 with CPython 3.11 hands back ``None`` from every ``void`` Qt call without
a new reference, so ``sys.getrefcount(None)`` falls by one per call and the interpreter
aborts with "Fatal Python error: none_dealloc" within seconds of a 30 fps repaint.
pyproject.toml excludes that release; `require_sound_bindings` refuses to start on it
anyway (an environment installed by other means), with a sentence that says what to do,
instead of patching reference counts behind the interpreter's back.
"""

from __future__ import annotations

import logging
import os
import sys

from kiosk.errors import KioskError

log = logging.getLogger(__name__)


class QtBindingsUnsafe(KioskError):
    code = "qt_bindings_unsafe"


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


def require_sound_bindings() -> None:
    """Refuse to run the UI on a PySide6 build that leaks references to None."""
    if leaks_none_refs():
        import PySide6

        raise QtBindingsUnsafe(
            f"PySide6 {PySide6.__version__} on Python {sys.version_info[0]}.{sys.version_info[1]} "
            "loses references to None and would crash the kiosk; install another release "
            "(pip install 'PySide6-Essentials!=6.12.0') or use Python 3.12 or newer"
        )


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
