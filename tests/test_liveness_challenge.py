"""The challenge state machine, the prompt draw and the rigidity cue on exact inputs
(no camera, no model): holds are milliseconds of frame time at any frame rate, every
threshold is relative to the person's own baseline, and a turning rigid mesh is told
from one plane and from a folded sheet."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import LivenessConfig
from kiosk.vision.challenge import ChallengeTracker, FaceSignals
from kiosk.vision.liveness_prompts import (
    ACTIONS,
    EXPRESSIONS,
    TURNS,
    Prompt,
    draw_challenge,
    draw_more,
)
from kiosk.vision.rigidity import flattest, turn_residuals

MESH = Path(__file__).resolve().parents[1] / "models" / "face_canonical_mesh_2023may.csv"


def _run(tracker: ChallengeTracker, frames: list[tuple[float, FaceSignals]]) -> list[object]:
    events = []
    tracker.start(frames[0][0])
    for t, s in frames:
        events.append(tracker.feed(s, t))
    return events


def _baseline(fps: float, rest: FaceSignals) -> list[tuple[float, FaceSignals]]:
    return [(i / fps, rest) for i in range(int(0.4 * fps) + 1)]


@pytest.mark.parametrize("fps", [25.0, 10.0])
def test_a_turn_counts_after_hold_ms_of_frame_time_at_any_frame_rate(fps: float) -> None:
    cfg = LivenessConfig(hold_ms=250.0, baseline_ms=300.0)
    rest = FaceSignals(yaw=4.0, pitch=-3.0, blink=0.1, mouth=0.05)  # camera a little off-axis
    turned = FaceSignals(yaw=4.0 + 16.0, pitch=-3.0, blink=0.1, mouth=0.05)
    short = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    frames = _baseline(fps, rest)
    t0 = frames[-1][0] + 1 / fps
    # held 200 ms (5 frames at 25 fps, 3 at 10 fps): not enough
    held = [(t0 + i / fps, turned) for i in range(round(0.2 * fps) + 1)]
    _run(short, [*frames, *held])
    assert (short.phase, short.step) == ("step", 0)
    long = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    held = [(t0 + i / fps, turned) for i in range(round(0.3 * fps) + 1)]
    events = _run(long, [*frames, *held])
    assert long.phase == "return"
    assert [e.step_done for e in events if e.step_done] == [Prompt.TURN_LEFT]  # type: ignore[attr-defined]
    assert long.base == rest
    (reaction,) = long.reactions_s
    # timed from the step's first frame (one frame after the 300 ms baseline ended) to
    # half-way (7.5 of 16 degrees), interpolated between the last rest frame and t0
    first_frame = math.ceil(0.3 * fps - 1e-6) / fps + 1 / fps
    assert reaction == pytest.approx(t0 - (1 - 7.5 / 16) / fps - first_frame)


def test_blink_and_mouth_are_relative_to_the_persons_own_rest() -> None:
    cfg = LivenessConfig()
    # narrow eyes: 0.4 at rest; a closed eye reads 0.7, only 0.3 above the rest
    rest = FaceSignals(0.0, 0.0, blink=0.4, mouth=0.1)
    tracker = ChallengeTracker(cfg, (Prompt.BLINK, Prompt.OPEN_MOUTH))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    seq = [(0.5, 0.1), (0.7, 0.1), (0.42, 0.1)]  # 0.5 is not closed; 0.7 is; then open
    seq += [(0.4, 0.35), (0.4, 0.45), (0.4, 0.45), (0.4, 0.45), (0.4, 0.45)]
    frames += [(t + (i + 1) / 10, FaceSignals(0, 0, b, m)) for i, (b, m) in enumerate(seq)]
    events = _run(tracker, frames)
    done = [e.step_done for e in events if e.step_done]  # type: ignore[attr-defined]
    assert done == [Prompt.BLINK, Prompt.OPEN_MOUTH]
    assert tracker.phase == "return"


def test_turning_the_wrong_way_twice_fails_and_the_step_times_out_in_seconds() -> None:
    cfg = LivenessConfig(max_wrong_moves=1, step_timeout_s=4.0)
    rest = FaceSignals(0.0, 0.0, 0.1, 0.0)
    tracker = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    right, centre = FaceSignals(-20, 0, 0.1, 0), rest
    moves = [right, centre, right]
    events = _run(tracker, [*frames, *[(t + (i + 1) / 10, s) for i, s in enumerate(moves)]])
    assert events[-1].failed == "wrong_direction"  # type: ignore[attr-defined]
    still = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    _run(still, frames)
    start = 0.3  # the step began at the frame that completed the 300 ms baseline
    assert not still.timed_out(start + 4.0) and still.timed_out(start + 4.01)


def test_challenges_have_3_or_4_steps_a_turn_an_expression_and_no_repeat() -> None:
    rng = random.Random(5)
    seen: set[Prompt] = set()
    lengths = set()
    for _ in range(300):
        steps = draw_challenge(rng, 3, 4)
        lengths.add(len(steps))
        assert any(s in TURNS for s in steps) and any(s in EXPRESSIONS for s in steps)
        assert all(a != b for a, b in itertools.pairwise(steps))
        seen.update(steps)
    assert lengths == {3, 4} and seen == set(ACTIONS)
    assert draw_challenge(random.Random(1), 3, 4) == draw_challenge(random.Random(1), 3, 4)
    assert Prompt.BLINK == "blink" and Prompt("open_mouth") is Prompt.OPEN_MOUTH


def _mesh_points(surface: str, yaw_deg: float) -> np.ndarray:
    """478 image points (x, y, depth) of the canonical mesh at 10 px/cm, turned by yaw."""
    mesh = np.loadtxt(MESH, delimiter=",", comments="#", skiprows=2)[:, :3] * 10.0
    mesh[:, 1] *= -1  # mesh y is up; image y is down
    if surface == "plane":
        mesh[:, 2] = 0.0
    elif surface == "folded":
        mesh[:, 2] = -np.abs(mesh[:, 0]) * math.tan(math.radians(25))
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    pts = mesh @ rot.T
    # a pinhole 60 cm away (focal 900 px): the perspective a kiosk camera sees
    z = 600.0 - pts[:, 2]
    out = np.stack([640 + 900 * pts[:, 0] / z, 300 + 900 * pts[:, 1] / z, pts[:, 2]], axis=1)
    return np.vstack([out, np.repeat(out[:1], 10, axis=0)])  # 468 → 478 rows (irises)


def test_rigidity_tells_a_head_from_a_plane_and_a_folded_sheet() -> None:
    head = turn_residuals(_mesh_points("head", 0), _mesh_points("head", 25))
    plane = turn_residuals(_mesh_points("plane", 0), _mesh_points("plane", 25))
    folded = turn_residuals(_mesh_points("folded", 0), _mesh_points("folded", 25))
    cfg = LivenessConfig()
    assert head["margin"] > 2 * cfg.rigidity_min_margin, head
    assert plane["plane"] < 1e-3 and plane["margin"] < cfg.rigidity_min_margin, plane
    assert folded["two_planes"] < 1e-3 and folded["margin"] < cfg.rigidity_min_margin, folded
    assert folded["plane"] > 5 * folded["two_planes"]
    assert (flattest(plane), flattest(folded)) == ("plane", "two_planes")


def test_every_challenge_ends_facing_the_camera_with_a_blink_or_open_mouth() -> None:
    rng = random.Random(11)
    for count in (2, 3, 4, 6):
        for _ in range(100):
            steps = draw_challenge(rng, count, count)
            assert len(steps) == count and steps[-1] in EXPRESSIONS
            assert any(s in TURNS for s in steps[:-1])
            assert all(a != b for a, b in itertools.pairwise(steps))


def test_the_return_counts_time_already_spent_facing_the_camera_but_takes_a_frame() -> None:
    cfg = LivenessConfig(hold_ms=250.0)
    rest = FaceSignals(0.0, 0.0, blink=0.1, mouth=0.1)
    tracker = ChallengeTracker(cfg, (Prompt.OPEN_MOUTH,))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    opened = FaceSignals(0.0, 0.0, blink=0.1, mouth=0.6)
    frames += [(t + (i + 1) / 10, opened) for i in range(4)]  # held 300 ms: step done
    _run(tracker, frames)
    assert tracker.phase == "return"  # not on the frame that ended the step
    tracker.feed(rest, t + 0.5)
    # facing the camera since the baseline: the next frame ends it, 100 ms later
    assert tracker.phase == "done" and tracker.finished_t == pytest.approx(t + 0.5)


def test_a_head_still_turned_after_the_last_step_must_come_back_and_hold() -> None:
    cfg = LivenessConfig(hold_ms=250.0)
    rest = FaceSignals(0.0, 0.0, blink=0.1, mouth=0.1)
    tracker = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    turned = FaceSignals(20.0, 0.0, 0.1, 0.1)
    frames += [(t + (i + 1) / 10, turned) for i in range(4)]
    _run(tracker, frames)
    assert tracker.phase == "return"
    back = [(t + 0.5 + i / 10, rest) for i in range(3)]  # 0, 100, 200 ms back: not yet
    for bt, bs in back:
        tracker.feed(bs, bt)
    assert tracker.phase == "return"
    tracker.feed(rest, t + 0.8)  # 300 ms back
    assert tracker.phase == "done"


def test_the_reaction_is_the_last_rise_through_half_way_not_a_noise_blip() -> None:
    cfg = LivenessConfig(hold_ms=250.0, pitch_deg=10.0)
    rest = FaceSignals(0.0, 0.0, 0.1, 0.1)
    tracker = ChallengeTracker(cfg, (Prompt.LOOK_DOWN,))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    pitches = [0, -6, 0, 0, 0, 0, -4, -12, -12, -12, -12]  # a blip at 0.2 s, the move at 0.8 s
    frames += [(t + (i + 1) / 10, FaceSignals(0.0, p, 0.1, 0.1)) for i, p in enumerate(pitches)]
    _run(tracker, frames)
    assert tracker.phase == "return"
    (reaction,) = tracker.reactions_s
    # the baseline ends at 0.3 s, so the step's first frame is t (0.4 s); the rise
    # through -5 lies between -4 (t+0.7) and -12 (t+0.8)
    assert reaction == pytest.approx(0.7 + 0.1 / 8)


def test_a_step_already_past_half_way_is_timed_to_its_end_not_as_zero() -> None:
    cfg = LivenessConfig(hold_ms=250.0, pitch_deg=10.0)
    rest = FaceSignals(0.0, 0.0, 0.1, 0.1)
    tracker = ChallengeTracker(cfg, (Prompt.LOOK_DOWN,))
    frames = _baseline(10.0, rest)[:-1]  # 0 .. 0.3 s: the baseline ends on the last
    frames += [(0.4 + i / 10, FaceSignals(0.0, -12.0, 0.1, 0.1)) for i in range(5)]
    _run(tracker, frames)
    # no rise to time (down from the first frame, 0.4 s): held 250 ms by 0.7 s, so the
    # step counts 0.3 s, an upper bound (a replay made to start each step half way is
    # not let off the limit)
    assert tracker.phase == "return"
    assert tracker.reactions_s == [pytest.approx(0.3)]


def test_the_reaction_clock_starts_at_the_first_frame_fed_even_without_a_face() -> None:
    cfg = LivenessConfig(hold_ms=250.0)
    rest = FaceSignals(0.0, 0.0, 0.1, 0.1)
    tracker = ChallengeTracker(cfg, (Prompt.TURN_LEFT,))
    _run(tracker, _baseline(10.0, rest)[:-1])  # the baseline ends at 0.3 s
    for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):  # the tablet blank while a clip is picked
        tracker.note_frame(t)
    for i, yaw in enumerate([0.0, 20.0, 20.0, 20.0, 20.0]):
        tracker.note_frame(1.0 + i / 10)
        tracker.feed(FaceSignals(yaw, 0.0, 0.1, 0.1), 1.0 + i / 10)
    (reaction,) = tracker.reactions_s
    # from 0.4 s (the first frame after the prompt) to the rise through 7.5° at 1.0375 s
    assert reaction == pytest.approx(1.0 + 0.1 * 7.5 / 20 - 0.4)


def test_extra_steps_follow_a_finished_challenge_and_are_timed_like_the_first() -> None:
    cfg = LivenessConfig(hold_ms=250.0)
    rest = FaceSignals(0.0, 0.0, blink=0.1, mouth=0.1)
    opened = FaceSignals(0.0, 0.0, blink=0.1, mouth=0.6)
    tracker = ChallengeTracker(cfg, (Prompt.OPEN_MOUTH,))
    frames = _baseline(10.0, rest)
    t = frames[-1][0]
    frames += [(t + (i + 1) / 10, opened) for i in range(4)]
    frames += [(t + 0.5, rest), (t + 0.6, rest)]
    _run(tracker, frames)
    assert tracker.phase == "done" and len(tracker.reactions_s) == 1
    tracker.extend((Prompt.TURN_LEFT, Prompt.BLINK), t + 0.7)
    assert (tracker.phase, tracker.prompt, tracker.finished_t) == ("step", Prompt.TURN_LEFT, None)
    tracker.note_frame(t + 0.8)
    turned = FaceSignals(16.0, 0.0, blink=0.1, mouth=0.1)
    # 0.5 s still, then the turn: the reaction clock runs from the step's first frame
    for i, s in enumerate([rest] * 5 + [turned] * 4):
        tracker.feed(s, t + 0.8 + i / 10)
    assert tracker.prompt is Prompt.BLINK and len(tracker.reactions_s) == 2
    assert tracker.reactions_s[1] == pytest.approx(0.5 - (1 - 7.5 / 16) / 10)
    assert tracker.progress < 1.0
    closed = FaceSignals(0.0, 0.0, blink=0.6, mouth=0.1)
    t1 = t + 1.8
    for i, s in enumerate([rest, closed, closed, rest, rest, rest, rest]):
        tracker.feed(s, t1 + i / 10)
    assert tracker.phase == "done" and len(tracker.reactions_s) == 3
    assert tracker.finished_t is not None and tracker.finished_t > t1


def test_more_steps_come_from_every_action_and_never_repeat_one() -> None:
    rng = random.Random(5)
    seen: set[tuple[Prompt, ...]] = set()
    for after in ACTIONS:
        for _ in range(300):
            more = draw_more(rng, 2, after)
            assert len(more) == 2 and more[0] != after and more[0] != more[1]
            seen.add(more)
    # as unpredictable as the first steps: any action first, any other after it
    assert {m[0] for m in seen} == set(ACTIONS) and len(seen) == 6 * 5


def test_extending_an_unfinished_challenge_is_a_programming_error() -> None:
    tracker = ChallengeTracker(LivenessConfig(), (Prompt.BLINK,))
    with pytest.raises(ValueError, match="finished challenge"):
        tracker.extend((Prompt.TURN_LEFT,), 0.0)


@pytest.mark.parametrize(
    ("reactions", "extended", "extra", "ruling"),
    [
        ([0.70, 0.75, 0.80], False, 2, "ok"),  # mean 0.75: within max_reaction_s
        ([0.70, 0.80, 0.84], False, 2, "more"),  # 0.78 over three steps: two more
        ([0.70, 0.80, 0.84], False, 0, "slow"),  # no extra steps configured
        ([0.70, 0.80, 0.84, 0.80, 0.76], True, 2, "ok"),  # 0.78 over five: within 0.80
        ([0.70, 0.80, 0.84, 0.90, 0.81], True, 2, "slow"),  # 0.81 over five
        ([], False, 2, "ok"),  # nothing timed (a passive session)
    ],
)
def test_the_reaction_ruling_on_exact_means(
    reactions: list[float], extended: bool, extra: int, ruling: str
) -> None:
    cfg = LivenessConfig(max_reaction_s=0.75, max_reaction_extended_s=0.80)
    cfg = LivenessConfig(**{**vars(cfg), "reaction_extra_steps": extra})
    tracker = ChallengeTracker(cfg, (Prompt.BLINK,))
    tracker.reactions_s = reactions
    assert tracker.reaction_ruling(extended) == ruling
