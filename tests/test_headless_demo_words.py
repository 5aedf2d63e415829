"""`kiosk demo --headless --language ru`: the printed screen text is the result screen's,
in the chosen language, one whole line per screen even when piped."""

from __future__ import annotations

import pytest

from kiosk.cli import main


def test_headless_demo_prints_the_result_screen_in_the_chosen_language(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--headless", "--language", "ru"]) == 0
    out = capsys.readouterr().out
    screens = [line.strip() for line in out.splitlines() if line.strip().startswith("screen:")]
    # Whatever the demo decides, the result screen is printed in Russian, whole.
    assert screens and all(s.count('" / "') == 2 and s.endswith('"') for s in screens)
    cyrillic = {chr(c) for c in range(0x0410, 0x0450)}
    assert all(set(s) & cyrillic for s in screens), screens
    assert "Identity confirmed" not in out and "Welcome" not in out
