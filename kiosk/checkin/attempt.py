"""One check-in attempt: the evidence gathered between claim and decision, the policy that
turns it into a decision, and the record body that reports it.

Kept apart from the state machine so the policy (`decide`) is a pure function that can be
read, reviewed and tested on its own: it is the part an auditor asks about.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.liveness_gate import LivenessSessionLike, Verdict, verdict_as_dict
from kiosk.checkin.matcher import Matcher, MatchOutcome, MatchResult
from kiosk.checkin.roster import BookedApplicant
from kiosk.vision.identity_continuity import IdentitySampler
from kiosk.vision.pipeline import FaceObservation


@dataclass
class CaptureAttempt:
    """Everything gathered for one applicant between claim and decision. It lives in
    memory only: the aligned crops and embeddings in `good` are never written anywhere."""

    applicant: BookedApplicant
    method: str  # how the applicant claimed: qr | booking_code | iin | applicant_id
    number: int  # 1-based attempt number for this applicant
    t_claim: float
    t_capture: float | None = None
    t_liveness: float | None = None
    good: list[FaceObservation] = field(default_factory=list)
    frames_seen: int = 0
    last_reason: str | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    engine_ms: list[float] = field(default_factory=list)
    embeddings: int = 0  # faces embedded for this attempt (fused frames + identity samples)
    embed_ms: float = 0.0
    sampler: IdentitySampler = field(default_factory=IdentitySampler)  # challenge embeds
    liveness_prompt: str | None = None  # the prompt shown now (from the last liveness step)
    sample_wanted: bool = False  # the liveness session asked for the next face's embedding
    liveness_frames: int = 0
    probe: np.ndarray | None = None  # fused embedding once capture is complete
    liveness: LivenessSessionLike | None = None
    verdict: Verdict | None = None
    continuity: float | None = None  # lowest liveness-frame cosine vs the captured probe
    # What the camera stream guard saw during this attempt (frozen, replayed, no sensor
    # noise, impossible timing): a match on an injected stream is no match at all.
    stream_suspicions: list[str] = field(default_factory=list)


def decide(
    att: CaptureAttempt,
    match: MatchResult | None,
    *,
    threshold: float,
    timeout: Reason | None = None,
    no_template: bool = False,
) -> tuple[Decision, Reason]:
    """Liveness + match + how the attempt ended → one decision.

    Order matters: evidence of fraud (a stand-in, a failed liveness check, a face swapped
    during the challenge) rejects before anything else; only a clean match with a
    positive liveness verdict opens the door; everything uncertain goes to a proctor.
    """
    if no_template:
        return Decision.NEEDS_PROCTOR, Reason.NO_TEMPLATE
    if match is None:  # capture timed out or was cancelled before enough good frames
        return Decision.REJECTED, timeout or Reason.CAPTURE_TIMEOUT
    if match.outcome == MatchOutcome.STAND_IN:
        return Decision.REJECTED, Reason.SUSPECTED_STAND_IN
    if timeout is not None:  # liveness timed out, or cancelled after capture
        return Decision.REJECTED, timeout
    if att.verdict is not None and att.verdict.passed is False:
        return Decision.REJECTED, Reason.LIVENESS_FAILED
    if match.outcome == MatchOutcome.NO_MATCH:
        return Decision.REJECTED, Reason.NO_MATCH
    if att.continuity is not None and att.continuity < threshold:
        return Decision.REJECTED, Reason.FACE_CHANGED
    if match.outcome == MatchOutcome.AMBIGUOUS:
        return Decision.NEEDS_PROCTOR, Reason.AMBIGUOUS_IDENTITY
    if match.outcome == MatchOutcome.INCONSISTENT:
        return Decision.NEEDS_PROCTOR, Reason.FRAMES_INCONSISTENT
    if att.stream_suspicions:
        return Decision.NEEDS_PROCTOR, Reason.CAMERA_STREAM_SUSPICIOUS
    if att.liveness is None:
        return Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNAVAILABLE
    if att.verdict is None or att.verdict.passed is not True:
        return Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNDECIDED
    if att.continuity is None:
        # a live verdict, but no sample facing the camera was held to the match threshold
        # against the captured face: the face that did the challenge is unconfirmed
        return Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNDECIDED
    return Decision.ACCEPTED, Reason.MATCHED


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000, 1)


def _round(value: float | None, digits: int = 5) -> float | None:
    return None if value is None else round(float(value), digits)


def evidence(
    att: CaptureAttempt,
    match: MatchResult | None,
    matcher: Matcher,
    *,
    now: float,
    match_ms: float,
    liveness_mode: str,
    liveness_unavailable: str | None,
    timeout: Reason | None,
) -> dict[str, Any]:
    """Scores, quality and per-stage timings for the ``checkin`` record: numbers and
    reason codes only, never a pixel or an embedding."""
    selected = matcher.select_frames(att.good)
    engine = round(statistics.median(att.engine_ms), 2) if att.engine_ms else None
    return {
        "score": None if match is None else _round(match.score),
        "second_best": None if match is None else _round(match.second_best),
        "match": None if match is None else match.as_dict(),
        "liveness": {
            "mode": liveness_mode,
            "checked": att.liveness is not None,
            "unavailable_reason": liveness_unavailable,
            "continuity": _round(att.continuity, 4),
            **verdict_as_dict(att.verdict, timed_out=timeout == Reason.LIVENESS_TIMEOUT),
        },
        "camera_stream": sorted(set(att.stream_suspicions)),
        "quality": {
            "frames_seen": att.frames_seen,
            "frames_good": len(att.good),
            "fused_quality": [round(o.quality.score, 1) for o in selected],
            "best": selected[0].quality.as_dict() if selected else None,
            "last_reason": att.last_reason,
            "reasons_seen": dict(att.reasons),
        },
        "timings_ms": {
            "wait_for_face": _ms(att.t_claim, att.t_capture),
            "capture": _ms(att.t_capture, att.t_liveness or now),
            "liveness": _ms(att.t_liveness, now) if att.liveness is not None else None,
            "match": round(match_ms, 2),
            "total": _ms(att.t_claim, now),
            "engine_per_frame_median": engine,
            "engine_total": round(sum(att.engine_ms) + att.embed_ms, 1),
            "faces_embedded": att.embeddings,
        },
    }


__all__ = ["CaptureAttempt", "decide", "evidence"]
