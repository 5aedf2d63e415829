"""What the door asks the applicant to do during the liveness challenge.

`Prompt` is the one list of prompt kinds: the challenge draws from it, the check-in flow
passes it on as `Step.prompt`, the door UI maps each member to its arrow or pictogram and
its translated sentence (`liveness.<value>` in assets/i18n). A `StrEnum`, so a prompt is
also the plain string that goes into logs and signed records.

Directions are the applicant's own: `TURN_LEFT` = the applicant turns towards their left,
which in the (unmirrored) camera image moves the nose to the image's right (yaw grows).
"""

from __future__ import annotations

import itertools
import random
from enum import StrEnum


class Prompt(StrEnum):
    FACE_CAMERA = "face_camera"  # look straight at the camera (start, and after the steps)
    HOLD_STILL = "hold_still"  # the baseline is being measured
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"
    LOOK_DOWN = "look_down"
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"


TURNS = (Prompt.TURN_LEFT, Prompt.TURN_RIGHT)
NODS = (Prompt.LOOK_UP, Prompt.LOOK_DOWN)
EXPRESSIONS = (Prompt.BLINK, Prompt.OPEN_MOUTH)
ACTIONS = (*TURNS, *NODS, *EXPRESSIONS)
PROMPTS = tuple(p.value for p in Prompt)


def draw_challenge(rng: random.Random, min_steps: int, max_steps: int) -> tuple[Prompt, ...]:
    """A random sequence of `min_steps`..`max_steps` actions, no action twice in a row.

    Every sequence holds at least one left/right turn (the 3D rigidity cue is measured
    during turns) and ends with a blink or a mouth opening: what a printed face, folded or
    worn as a mask, cannot do, and a step done facing the camera, so the applicant is
    already back in front of it when the last step ends (no separate "face the camera"
    wait: the genuine challenge stays near 4 s). The steps before the last are drawn from
    every action.
    """
    count = rng.randint(min_steps, max_steps)
    last = rng.choice(EXPRESSIONS)
    if count == 1:
        return (last,)
    for _ in range(100):
        head = [rng.choice(TURNS)] + [rng.choice(ACTIONS) for _ in range(count - 2)]
        rng.shuffle(head)
        picks = [*head, last]
        if all(a != b for a, b in itertools.pairwise(picks)):
            return tuple(picks)
    return tuple(picks)  # unreachable in practice: 6 actions leave many orders


def draw_more(rng: random.Random, count: int, after: Prompt) -> tuple[Prompt, ...]:
    """`count` more steps for a challenge that ended with `after`, each drawn from every
    action (no action twice in a row, the first not `after`): the extra steps must be as
    unpredictable as the first ones, or an attacker picking a recorded clip per prompt
    could have the likely ones ready."""
    picks: list[Prompt] = []
    for _ in range(count):
        last = picks[-1] if picks else after
        picks.append(rng.choice([a for a in ACTIONS if a != last]))
    return tuple(picks)


__all__ = [
    "ACTIONS",
    "EXPRESSIONS",
    "NODS",
    "PROMPTS",
    "TURNS",
    "Prompt",
    "draw_challenge",
    "draw_more",
]
