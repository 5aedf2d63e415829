"""`kiosk calibrate --self-test` output: config names survive rich, and a missing camera
is one line, not a screen of OpenCV warnings."""

from __future__ import annotations

import pytest

from kiosk.cli import main


def test_self_test_keeps_bracketed_names_and_silences_opencv(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["calibrate", "--self-test", "--camera", "9"]) == 1  # no /dev/video9 here
    out, err = capfd.readouterr()
    assert "no centre configured ([sync] centre_url)" in out
    camera_lines = [line for line in out.splitlines() if "camera" in line]
    assert len(camera_lines) == 1 and camera_lines[0].startswith("FAIL camera")
    assert "WARN" not in err and "cap_v4l" not in err and "global " not in err
