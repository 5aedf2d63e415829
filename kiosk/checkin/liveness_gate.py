"""The flow's view of liveness (presentation-attack detection), and the fail-closed default.

The flow depends only on these protocols, so the real checker in
``kiosk/vision/liveness.py`` plugs in without the flow importing it, and the door stays
safe while no checker exists: `FailClosedLiveness` never says "live", so without a real
checker every otherwise-good check-in goes to a proctor instead of opening the door.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kiosk.vision.pipeline import FaceObservation


# Read-only members: frozen dataclasses and plain ones both satisfy them.
class Verdict(Protocol):
    @property
    def passed(self) -> bool | None: ...  # None: cannot decide

    @property
    def score(self) -> float: ...

    @property
    def reason(self) -> str: ...

    @property
    def cues(self) -> dict[str, float]: ...


class Step(Protocol):
    @property
    def prompt(self) -> str | None: ...

    @property
    def progress(self) -> float: ...

    @property
    def facing(self) -> bool: ...  # the head faced the camera (the session's own pose)

    @property
    def wants_sample(self) -> bool: ...  # embed the next face for the identity check

    @property
    def verdict(self) -> Verdict | None: ...


class LivenessSessionLike(Protocol):
    def feed(self, obs: FaceObservation | None, frame_bgr: np.ndarray, t: float) -> Step: ...


class LivenessCheckerLike(Protocol):
    available: bool
    unavailable_reason: str

    def start(self, rng: random.Random | None = None) -> LivenessSessionLike: ...


@dataclass(frozen=True)
class UndecidedVerdict:
    passed: bool | None = None
    score: float = 0.0
    reason: str = "no_liveness_checker"
    cues: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class UndecidedStep:
    prompt: str | None = None
    progress: float = 1.0
    facing: bool = True
    wants_sample: bool = False
    verdict: Verdict | None = field(default_factory=UndecidedVerdict)


class _UndecidedSession:
    def feed(self, obs: FaceObservation | None, frame_bgr: np.ndarray, t: float) -> Step:
        return UndecidedStep()


class FailClosedLiveness:
    """Stands in for a missing liveness checker: answers "cannot decide" at once.

    It reports itself available so the flow still runs the match (the proctor then sees
    the score), but its verdict is undecided, so the outcome is at best needs_proctor.
    """

    available = True
    unavailable_reason = ""

    def start(self, rng: random.Random | None = None) -> LivenessSessionLike:
        return _UndecidedSession()


def _num(value: object) -> float | None:
    """A finite, rounded float for a signed record (canonical JSON refuses NaN/inf)."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(f, 4) if math.isfinite(f) else None


def verdict_as_dict(verdict: Verdict | None, *, timed_out: bool = False) -> dict[str, object]:
    """The liveness part of a ``checkin`` record body (numbers and codes only)."""
    if verdict is None:
        return {"passed": None, "score": None, "reason": "timeout" if timed_out else "none"}
    return {
        "passed": verdict.passed,
        "score": _num(verdict.score),
        "reason": str(verdict.reason),
        "cues": {str(k): _num(v) for k, v in dict(verdict.cues or {}).items()},
    }


__all__ = [
    "FailClosedLiveness",
    "LivenessCheckerLike",
    "LivenessSessionLike",
    "Step",
    "UndecidedVerdict",
    "Verdict",
    "verdict_as_dict",
]
