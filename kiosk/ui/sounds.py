"""Short sound cues for results (assets/sounds/*.wav, made by scripts/make_sounds.py), so
a person looking away from the screen still hears "in", "not yet" or "wait".

PySide6-Essentials has no QtMultimedia; when it is there (PySide6-Addons) the WAV files
play through `QSoundEffect`, otherwise the system beep marks the moment (one beep for in,
two for anything else). Never raises: a kiosk without a sound card still checks people in.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QApplication

from kiosk.config import BUNDLED_ASSETS

log = logging.getLogger(__name__)

CUES = ("accepted", "try_again", "wait")
BEEPS = {"accepted": 1, "try_again": 2, "wait": 2}


def sound_dir(assets_dir: str | Path | None = None) -> Path:
    return Path(assets_dir or BUNDLED_ASSETS) / "sounds"


class SoundCues:
    def __init__(self, assets_dir: str | Path | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.played: list[str] = []  # what was cued, for the tests and the log
        self._effects: dict[str, object] = {}
        try:
            from PySide6.QtMultimedia import QSoundEffect  # type: ignore[import-not-found]
        except ImportError:
            self.backend = "beep"
            return
        from PySide6.QtCore import QUrl

        self.backend = "qtmultimedia"
        for cue in CUES:
            effect = QSoundEffect()
            effect.setSource(QUrl.fromLocalFile(str(sound_dir(assets_dir) / f"{cue}.wav")))
            self._effects[cue] = effect

    def play(self, cue: str) -> None:
        if cue not in CUES:
            raise ValueError(f"unknown sound cue {cue!r}")
        self.played.append(cue)
        if not self.enabled:
            return
        try:
            effect = self._effects.get(cue)
            if effect is not None:
                effect.play()  # type: ignore[attr-defined]
            else:
                for _ in range(BEEPS[cue]):
                    QApplication.beep()
        except Exception:  # a missing sound device must not stop the door
            log.exception("sound cue %s failed", cue)
