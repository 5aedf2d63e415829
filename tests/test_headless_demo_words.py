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
    assert screens[0] == (
        'screen: "Добро пожаловать, A. B." / "Аудитория DEMO-101, место 1" / '
        '"Проходите, пожалуйста"'
    )
    assert "Identity confirmed" not in out and "Welcome" not in out
