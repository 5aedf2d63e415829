"""Which challenge frames get an embedding (kiosk.vision.identity_continuity.py): the door's
flow and the attack-set driver share this rule, so the evaluation measures the door's
identity check."""

from __future__ import annotations

import numpy as np

from kiosk.vision.identity_continuity import IdentityContinuity, IdentitySampler


def _taken(sampler: IdentitySampler, prompts: list[str]) -> list[int]:
    return [i for i, p in enumerate(prompts) if sampler.wants(p)]


def test_each_prompt_change_and_the_face_after_it_are_sampled() -> None:
    prompts = ["face_camera"] * 4 + ["turn_left"] * 5 + ["blink"] * 3 + ["face_camera"] * 2
    assert _taken(IdentitySampler(0), prompts) == [0, 1, 4, 5, 9, 10, 12, 13]


def test_every_nth_face_adds_a_sample_and_its_neighbour() -> None:
    prompts = ["turn_left"] * 10
    assert _taken(IdentitySampler(4), prompts) == [0, 1, 4, 5, 8, 9]


def _unit(angle_deg: float) -> np.ndarray:
    """A 2-D 'embedding' whose cosine to _unit(0) is cos(angle)."""
    a = np.radians(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


def _check() -> IdentityContinuity:
    return IdentityContinuity(0.3, 0.5, lambda a, b: float(np.dot(a, b)))


def test_a_turned_sample_is_not_held_to_the_frontal_reference() -> None:
    check = _check()
    assert not check.changed(_unit(0), 1, facing=True, final=False)
    # cos 0.17 to the reference: a face turned 30° may score that low; not adjacent
    assert not check.changed(_unit(80), 5, facing=False, final=False)
    assert check.min_cos == 1.0  # turned samples are not counted in the cue either
    # the same embedding facing the camera is another person
    assert check.changed(_unit(80), 9, facing=True, final=False)
    assert check.min_cos < 0.3


def test_adjacent_facing_frames_are_held_to_the_tight_threshold() -> None:
    check = _check()
    check.changed(_unit(0), 1, facing=True, final=False)
    assert not check.changed(_unit(40), 4, facing=True, final=False)
    # the next frame: cos(70°) = 0.34 to the reference passes the loose check, but
    # cos(110°) to the frame before fails the tight one (a lookalike swapped in)
    assert check.changed(_unit(-70), 5, facing=True, final=False)
    assert check.min_step_cos < 0.5


def test_turned_frames_are_not_compared_at_all() -> None:
    check = _check()
    check.changed(_unit(0), 1, facing=True, final=False)
    # a fast turn: neighbours 61° apart and 80° from the reference, both turned
    assert not check.changed(_unit(80), 4, facing=False, final=False)
    assert not check.changed(_unit(19), 5, facing=False, final=False)
    assert check.min_cos == 1.0 and check.min_step_cos == 1.0


def test_only_a_facing_sample_after_the_steps_is_the_final_one() -> None:
    check = _check()
    check.changed(_unit(0), 1, facing=True, final=False)
    check.changed(_unit(10), 6, facing=False, final=True)
    assert not check.final_sample
    check.changed(_unit(5), 8, facing=True, final=True)
    assert check.final_sample and check.samples == 2  # facing samples only


def test_a_face_the_session_asks_for_is_taken_and_still_counted() -> None:
    sampler = IdentitySampler(0)
    prompts = ["blink"] * 3 + ["hold_still"] * 4
    asked = [False] * 3 + [False, False, True, True]
    taken = [
        i for i, (p, a) in enumerate(zip(prompts, asked, strict=True)) if sampler.wants(p, asked=a)
    ]
    # the prompt change takes 3 and 4; the session's asks take 5 and 6
    assert taken == [0, 1, 3, 4, 5, 6]
