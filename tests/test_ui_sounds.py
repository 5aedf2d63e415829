"""The result sound cues: short WAV files made by scripts/make_sounds.py (committed in
assets/sounds), the same bytes on every run, played through QtMultimedia when the
bindings have it and the system beep when they do not (PySide6-Essentials)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import wave
from pathlib import Path

from kiosk.ui.sounds import CUES, SoundCues, sound_dir

ROOT = Path(__file__).resolve().parent.parent


def test_each_cue_is_a_short_mono_wav() -> None:
    for cue in CUES:
        with wave.open(str(sound_dir() / f"{cue}.wav"), "rb") as w:
            seconds = w.getnframes() / w.getframerate()
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
            assert 0.2 <= seconds <= 0.6, cue


def test_the_script_makes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_sounds.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for cue in CUES:
        assert (tmp_path / f"{cue}.wav").read_bytes() == (sound_dir() / f"{cue}.wav").read_bytes()


def test_backend_follows_what_the_bindings_offer(qapp) -> None:
    cues = SoundCues()
    has_multimedia = importlib.util.find_spec("PySide6.QtMultimedia") is not None
    assert cues.backend == ("qtmultimedia" if has_multimedia else "beep")
    cues.play("accepted")
    cues.play("wait")
    assert cues.played == ["accepted", "wait"]
