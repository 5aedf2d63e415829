"""The active challenge as a state machine over per-frame face signals, timed in ms.

`ChallengeTracker` knows nothing about images: each frame it gets the head pose and the
blink and mouth scores that the dense landmarks gave (`FaceSignals`) and the frame's time
stamp, and moves baseline → each step → return. Holds and timeouts are measured on the
frame time stamps, never in frames, so a camera at 25 fps and one at 10 fps ask the same
of the applicant (two frames at 25 fps are 80 ms; at 10 fps 200 ms).

Everything is relative to the applicant's own baseline (the median over the first
frontal frames): a camera mounted a little high, a person who holds their head tilted,
eyes that are narrow at rest or a mouth that is never quite closed all move the baseline,
not the thresholds.

It also records, per step, the *reaction time*: from the prompt until the signal is half
way to its target (their mean is the `reaction_s` cue). A person starts to move ~0.2–0.8 s
after a prompt; someone who has to find and start a recorded clip for each prompt is
slower (see docs/LIVENESS.md).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from kiosk.config import LivenessConfig
from kiosk.vision.liveness_prompts import Prompt


def frontal_for_baseline(yaw: float, pitch: float, turn_deg: float) -> bool:
    """The baseline's rule: a head within `turn_deg` of the camera on both axes may set
    the person's rest pose (the session's `facing` before a baseline, and the attack
    set's choice of photos, use the same rule)."""
    return abs(yaw) <= turn_deg and abs(pitch) <= turn_deg


@dataclass(frozen=True)
class FaceSignals:
    """What one frame says: degrees (see quality.HeadPose) and 0..1 scores."""

    yaw: float
    pitch: float
    blink: float  # 0 eyes open .. 1 closed
    mouth: float  # 0 closed .. 1 wide open


@dataclass
class ChallengeEvent:
    """What changed on this frame (the session acts on step ends and failures)."""

    phase_changed: bool = False
    step_done: Prompt | None = None  # the step that was just completed
    failed: str | None = None  # a reason code: the challenge is over, not passed


@dataclass
class ChallengeTracker:
    cfg: LivenessConfig
    challenge: tuple[Prompt, ...]
    phase: str = "baseline"  # baseline → step → return → done
    step: int = 0
    base: FaceSignals = field(default_factory=lambda: FaceSignals(0.0, 0.0, 0.0, 0.0))
    reactions_s: list[float] = field(default_factory=list)
    wrong_moves: int = 0
    started_t: float = 0.0
    finished_t: float | None = None  # when the return to the camera was held
    _baseline: list[FaceSignals] = field(default_factory=list)
    _baseline_t0: float | None = None
    _phase_t: float = 0.0
    _hold_t: float | None = None  # when the current target was first reached
    _closed_seen: bool = False  # blink: eyes seen closed during this step
    _crossed_t: float | None = None  # the last time the signal rose through half way
    _in_wrong: bool = False
    _prev: tuple[float, float] | None = None  # (t, progress) of the step's last frame
    _centred_t: float | None = None  # since when the head faces the camera (any phase)
    _react_from: float | None = None  # the step's first frame

    @property
    def prompt(self) -> Prompt:
        if self.phase == "baseline":
            return Prompt.HOLD_STILL if self._baseline else Prompt.FACE_CAMERA
        if self.phase == "step":
            return self.challenge[self.step]
        return Prompt.FACE_CAMERA

    @property
    def progress(self) -> float:
        total = len(self.challenge) + 2
        done = {"baseline": 0, "step": 1 + self.step, "return": total - 1}.get(self.phase, total)
        return min(1.0, done / total)

    def start(self, t: float) -> None:
        self._phase_t = self.started_t = t

    def note_frame(self, t: float) -> None:
        """Every frame the session is fed, with or without a face: the first one after a
        step's prompt appeared starts that step's reaction clock (the frame that ended
        the last step was analysed before the new prompt could be on the screen, so the
        door's own frame latency is not counted against the applicant)."""
        if self.phase == "step" and self._react_from is None:
            self._react_from = t

    def timed_out(self, t: float) -> bool:
        limit = self.cfg.baseline_timeout_s if self.phase == "baseline" else self.cfg.step_timeout_s
        return self.phase != "done" and t - self._phase_t > limit

    def feed(self, s: FaceSignals, t: float) -> ChallengeEvent:
        if self.phase == "baseline":
            return self._feed_baseline(s, t)
        rel = FaceSignals(
            s.yaw - self.base.yaw,
            s.pitch - self.base.pitch,
            s.blink - self.base.blink,
            s.mouth - self.base.mouth,
        )
        centred = abs(rel.yaw) < self.cfg.turn_deg / 2 and abs(rel.pitch) < self.cfg.pitch_deg
        if not centred:
            self._centred_t = None
        elif self._centred_t is None:
            self._centred_t = t
        if self.phase == "return":
            return self._feed_return(t)
        if self.phase != "step":
            return ChallengeEvent()
        prompt = self.challenge[self.step]
        self._note_reaction(prompt, rel, t)
        if self._step_reached(prompt, rel, t):
            if self._react_from is not None:
                # no rise through half way (the signal was past it from the first frame):
                # the time to the step's end is an upper bound, never a free 0 s
                end = self._crossed_t if self._crossed_t is not None else t
                self.reactions_s.append(max(0.0, end - self._react_from))
            self.step += 1
            self._enter("step" if self.step < len(self.challenge) else "return", t)
            self._in_wrong = self.phase == "step" and self._wrong_zone(rel)
            return ChallengeEvent(phase_changed=True, step_done=prompt)
        wrong = self._wrong_zone(rel)
        event = ChallengeEvent()
        if wrong and not self._in_wrong:
            self.wrong_moves += 1
            if self.wrong_moves > self.cfg.max_wrong_moves:
                event.failed = "wrong_direction"
        self._in_wrong = wrong
        return event

    def _feed_return(self, t: float) -> ChallengeEvent:
        """Done once the head has faced the camera for `hold_ms`, counted from when it
        came back, which may be during the last step (a blink or an open mouth, done
        facing the camera). The return still takes at least one frame of its own after
        the last step: the flow embeds the first face after every prompt change, so the
        face that finishes the challenge is an identity sample too."""
        since = self._centred_t
        if since is not None and (t - since) * 1000 >= self.cfg.hold_ms:
            self._enter("done", t)
            return ChallengeEvent(phase_changed=True)
        return ChallengeEvent()

    def extend(self, steps: tuple[Prompt, ...], t: float) -> None:
        """Go on with `steps` after a completed challenge (the session asks for them when
        the reaction times were too slow to call): the new steps, and the return after
        them, are done and timed exactly like the first ones."""
        if self.phase != "done" or not steps:
            raise ValueError(f"extend() needs a finished challenge and steps ({self.phase})")
        self.challenge = (*self.challenge, *steps)
        self.finished_t = None
        self._in_wrong = False
        self._enter("step", t)

    def reaction_ruling(self, extended: bool) -> str:
        """What the mean reaction over the timed steps says: "ok", "more" (ask for
        `reaction_extra_steps` more steps) or "slow" (a proctor decides); see
        docs/LIVENESS.md, "Slow reactions". No timed step (no challenge): "ok"."""
        mean, cfg = self.mean_reaction_s(), self.cfg
        if math.isnan(mean) or mean <= cfg.max_reaction_s:
            return "ok"
        if not extended:
            return "more" if cfg.reaction_extra_steps else "slow"
        return "ok" if mean <= cfg.max_reaction_extended_s else "slow"

    def mean_reaction_s(self) -> float:
        """The mean over the timed steps: with three steps a median is one step's value,
        and one lucky step lets a slow presenter through (docs/LIVENESS.md)."""
        return statistics.fmean(self.reactions_s) if self.reactions_s else float("nan")

    # ------------------------------------------------------------ internals

    def _feed_baseline(self, s: FaceSignals, t: float) -> ChallengeEvent:
        cfg = self.cfg
        if not frontal_for_baseline(s.yaw, s.pitch, cfg.turn_deg):
            self._baseline, self._baseline_t0 = [], None  # not frontal: start again
            return ChallengeEvent()
        if self._baseline_t0 is None:
            self._baseline_t0 = t
        self._baseline.append(s)
        if len(self._baseline) < 2 or (t - self._baseline_t0) * 1000 < cfg.baseline_ms:
            return ChallengeEvent()
        self.base = FaceSignals(
            *(
                statistics.median(getattr(b, k) for b in self._baseline)
                for k in FaceSignals.__dataclass_fields__
            )
        )
        self.step = 0
        self._enter("step" if self.challenge else "return", t)
        return ChallengeEvent(phase_changed=True)

    def _enter(self, phase: str, t: float) -> None:
        self.phase, self._phase_t, self._hold_t = phase, t, None
        if phase == "done":
            self.finished_t = t
        self._closed_seen = False
        self._prev = self._react_from = self._crossed_t = None

    def _held(self, on_target: bool, t: float) -> bool:
        """On target since at least `hold_ms` (measured on frame time stamps)."""
        if not on_target:
            self._hold_t = None
            return False
        if self._hold_t is None:
            self._hold_t = t
        return (t - self._hold_t) * 1000 >= self.cfg.hold_ms

    def _step_reached(self, prompt: Prompt, rel: FaceSignals, t: float) -> bool:
        cfg = self.cfg
        if prompt is Prompt.BLINK:
            # a blink is short (100–400 ms): seen closed, then open again, counts
            if rel.blink >= cfg.blink_rise:
                self._closed_seen = True
            return self._closed_seen and rel.blink < cfg.blink_rise / 2
        if prompt is Prompt.OPEN_MOUTH:
            return self._held(rel.mouth >= cfg.mouth_rise, t)
        if prompt is Prompt.TURN_LEFT:
            return self._held(rel.yaw >= cfg.turn_deg, t)
        if prompt is Prompt.TURN_RIGHT:
            return self._held(rel.yaw <= -cfg.turn_deg, t)
        straight = abs(rel.yaw) < cfg.turn_deg
        if prompt is Prompt.LOOK_UP:
            return self._held(rel.pitch >= cfg.pitch_deg and straight, t)
        return self._held(rel.pitch <= -cfg.pitch_deg and straight, t)  # LOOK_DOWN

    def _toward(self, prompt: Prompt, rel: FaceSignals) -> tuple[float, float]:
        """(how far the signal has moved towards this prompt's target, half the target)."""
        cfg = self.cfg
        return {
            Prompt.TURN_LEFT: (rel.yaw, cfg.turn_deg / 2),
            Prompt.TURN_RIGHT: (-rel.yaw, cfg.turn_deg / 2),
            Prompt.LOOK_UP: (rel.pitch, cfg.pitch_deg / 2),
            Prompt.LOOK_DOWN: (-rel.pitch, cfg.pitch_deg / 2),
            Prompt.BLINK: (rel.blink, cfg.blink_rise / 2),
            Prompt.OPEN_MOUTH: (rel.mouth, cfg.mouth_rise / 2),
        }.get(prompt, (0.0, math.inf))

    def _note_reaction(self, prompt: Prompt, rel: FaceSignals, t: float) -> None:
        """Note when the signal rises through half its target, interpolated between this
        frame and the one before (so a 5 fps camera does not add up to 200 ms to it).
        The step's reaction time is the *last* such rise before the step is done: noise
        that crosses half way and falls back (pitch read at a large turn, a twitch) does
        not count as the start of the movement.

        A step whose signal is already past half its target on its first frame (a look
        down while the head still dips from the turn before) and stays there has no rise
        to time: its time to completion counts instead (an upper bound), not 0 s, and
        not nothing: a replay made to start every step half way must not escape the
        limit."""
        value, half = self._toward(prompt, rel)
        previous = self._prev
        self._prev = (t, value)
        if self._react_from is None:  # fed without note_frame (tests): this frame starts it
            self._react_from = t
        if previous is None or not previous[1] < half <= value:
            return
        t0, v0 = previous
        self._crossed_t = t0 + (t - t0) * (half - v0) / (value - v0)

    def _wrong_zone(self, rel: FaceSignals) -> bool:
        """A clear turn the opposite way of the current turn prompt (a replay cycling
        through every move would eventually match any challenge; this stops it trying).
        Only yaw counts: people nod while they listen."""
        if self.phase != "step":
            return False
        prompt = self.challenge[self.step]
        if prompt is Prompt.TURN_LEFT:
            return rel.yaw <= -self.cfg.turn_deg
        if prompt is Prompt.TURN_RIGHT:
            return rel.yaw >= self.cfg.turn_deg
        return False


__all__ = ["ChallengeEvent", "ChallengeTracker", "FaceSignals", "frontal_for_baseline"]
