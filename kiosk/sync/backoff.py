"""Exponential backoff with full jitter.

Full jitter (sleep a uniform random time in [0, min(cap, base·2^n)]) is what spreads a
room full of kiosks that all lost the centre at the same moment, so they do not return
in lock-step and knock it over again (see the AWS Architecture Blog, "Exponential
Backoff And Jitter").
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, base_s: float = 1.0, cap_s: float = 300.0, rng: random.Random | None = None
    ) -> None:
        if base_s <= 0 or cap_s <= 0:
            raise ValueError("backoff base and cap must be positive")
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The upper bound of the next delay (before jitter)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
