"""The installed Qt bindings must not leak references to None (PySide6 6.12.0 on
CPython 3.11 aborts the interpreter within seconds of repainting the camera view)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest


def test_void_qt_calls_keep_none_alive() -> None:
    script = textwrap.dedent(
        """
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication, QLabel
        app = QApplication([])
        label = QLabel()
        for _ in range(100_000):  # enough to reach none_dealloc on a leaking build
            label.setText("x")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-500:]


def test_ui_refuses_leaking_bindings_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.ui import qt_compat

    assert qt_compat.leaks_none_refs() is False
    monkeypatch.setattr(qt_compat, "leaks_none_refs", lambda calls=100: True)
    with pytest.raises(qt_compat.QtBindingsUnsafe, match=re.escape("PySide6-Essentials!=6.12.0")):
        qt_compat.require_sound_bindings()
