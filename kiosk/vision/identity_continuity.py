"""Identity continuity during the liveness challenge: which frames are embedded, and
what each embedding is checked against.

An embedding costs more than detection and landmarks together, so during the liveness
challenge only *samples* are embedded: the first face after every prompt change (each
transition, where a swap is easiest), the face right after it (the tight
frame-to-frame check needs two adjacent frames), and, with `every` > 0, every n-th face
after that. The check-in flow (kiosk/checkin/flow.py) and the attack-set driver
(kiosk/evaluation/attacks.py) both use this, so the evaluation measures the identity
check the door actually makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class IdentitySampler:
    every: int = 0  # checkin.identity_sample_every: 0 = samples at transitions only
    _prompt: str | None = None  # the prompt shown when the last sample was taken
    _since: int = 0  # faces since the last sample (0: no sample yet)

    def wants(self, prompt: str | None, *, asked: bool = False) -> bool:
        """Call once per frame that has a face, with the prompt shown for that frame and
        whether the liveness session asked for this face (`step.wants_sample`: it waits
        for a sample facing the camera): True when this face is to be embedded."""
        if self._since == 0 or prompt != self._prompt:
            self._prompt, self._since = prompt, 1
            return True
        if self.every > 0 and self._since >= self.every:
            self._since = 1
            return True
        take = self._since == 1  # the neighbour of the last sample
        self._since += 1
        return take or asked


class IdentityContinuity:
    """Same person as in the first sample, and as in the frame before.

    Both checks are made only on samples taken facing the camera (the session's
    dense-landmark pose): a recogniser's similarity falls as the head turns, and for a
    face 30° away from the frontal reference, or between two frames of a fast turn, it
    can fall under any useful threshold. Facing the camera, the first-sample check is
    loose (`min_cosine`: expression and light still change) and the check against the
    adjacent frame tight (`min_step_cosine`: from one frame to the next almost nothing
    changes, so it catches the moment of a swap by a lookalike the loose one misses).
    A swap made while the head is turned is caught by the next facing sample, and there
    is always one after the last step (`final_sample`; LivenessSession asks for it if
    needed); the flow also holds every facing sample to the match threshold against
    the captured face.
    """

    def __init__(
        self,
        min_cosine: float,
        min_step_cosine: float,
        similarity: Callable[[np.ndarray, np.ndarray], float],
    ) -> None:
        self.min_cosine, self.min_step_cosine = min_cosine, min_step_cosine
        self.similarity = similarity
        self.reference: np.ndarray | None = None
        self.samples = 0  # samples taken facing the camera (the ones compared)
        self.min_cos = self.min_step_cos = 1.0  # lowest similarities seen (cues)
        self.final_sample = False  # a facing sample after the challenge's steps
        self._prev: np.ndarray | None = None  # the last facing sample
        self._prev_frame = -1

    def changed(self, embedding: np.ndarray, frame: int, *, facing: bool, final: bool) -> bool:
        """Take the embedding of frame number `frame`; True when the face is not the same
        person. `facing`: the head faced the camera; `final`: the steps are over."""
        if not facing:
            return False
        self.samples += 1
        if self.reference is None:  # the first sample facing the camera
            self.reference, self._prev, self._prev_frame = embedding, embedding, frame
            return False
        adjacent = self._prev_frame == frame - 1
        prev, self._prev, self._prev_frame = self._prev, embedding, frame
        self.final_sample = self.final_sample or final
        cos = self.similarity(self.reference, embedding)
        self.min_cos = min(self.min_cos, cos)
        if cos < self.min_cosine:
            return True
        if not adjacent or prev is None:
            return False
        step = self.similarity(prev, embedding)
        self.min_step_cos = min(self.min_step_cos, step)
        return step < self.min_step_cosine


__all__ = ["IdentityContinuity", "IdentitySampler"]
