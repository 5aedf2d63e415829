"""Write the kiosk's sound cues to assets/sounds/*.wav: short sine tones with soft edges,
synthesised with numpy and written with the standard `wave` module (no audio library,
no downloaded sounds, same bytes every run).

    python scripts/make_sounds.py [--out assets/sounds]

accepted  : a rising two-note chime (E5 -> A5), "go in"
try_again : two short mid notes (A4, A4), "not yet, once more"
wait      : a falling pair (A4 -> E4), "please wait"
"""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np

RATE = 22050
CUES = {
    "accepted": [(659.25, 0.14), (880.0, 0.22)],
    "try_again": [(440.0, 0.12), (0.0, 0.06), (440.0, 0.12)],
    "wait": [(440.0, 0.18), (329.63, 0.26)],
}


def tone(freq: float, seconds: float, volume: float = 0.35) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = np.sin(2 * np.pi * freq * t) if freq else np.zeros_like(t)
    fade = min(len(t) // 4, int(RATE * 0.015))  # 15 ms in and out: no clicks
    env = np.ones_like(t)
    if fade:
        env[:fade] = np.linspace(0, 1, fade)
        env[-fade:] = np.linspace(1, 0, fade)
    return volume * wave_ * env


def write_cue(path: Path, notes: list[tuple[float, float]]) -> None:
    samples = np.concatenate([tone(f, s) for f, s in notes])
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "assets" / "sounds")
    )
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for name, notes in CUES.items():
        write_cue(out / f"{name}.wav", notes)
        print(f"wrote {out / name}.wav")


if __name__ == "__main__":
    main()
