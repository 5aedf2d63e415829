"""`kiosk demo --headless --language ru`: the printed screen text is the window's result
screen, in the chosen language, and piped lines are never broken mid-field."""

from __future__ import annotations

import pytest

from kiosk.cli import main


def test_headless_demo_prints_the_result_screen_in_the_chosen_language(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--headless", "--language", "ru"]) == 0
    out = capsys.readouterr().out
    screens = [line.strip() for line in out.splitlines() if line.strip().startswith("screen:")]
    # The window's accepted screen: title, room and seat, next step (ru), on one line.
    assert any(
        s.startswith('screen: "Добро пожаловать, Aruzhan Bekova / Аудитория ')
        and s.endswith('/ Проходите, пожалуйста"')
        for s in screens
    ), screens
    assert (
        'screen: "Не удалось подтвердить вашу личность / Ваше лицо не совпадает с фотографией '
        'в бронировании / Пожалуйста, позовите наблюдателя"' in screens
    )
    assert "Identity confirmed" not in out
