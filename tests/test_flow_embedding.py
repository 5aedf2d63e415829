"""The door embeds only what its decision uses: the fused capture frames and one identity
sample per challenge step (plus every n-th frame when configured). Real models, real
photos, a real signed ledger; the liveness stub only scripts the prompts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.flow import CheckinFlow, StateName
from kiosk.checkin.matcher import Calibration, Matcher
from kiosk.checkin.proctor import ProctorAccount, ProctorRole
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, Template, make_iin
from kiosk.config import KioskConfig
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.vision.imageio import read_image
from kiosk.vision.liveness import LivenessStep
from kiosk.vision.pipeline import FaceEngine, FaceObservation

DATA = Path(__file__).resolve().parent / "data" / "checkin"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PROMPTS = ["turn_left"] * 4 + ["turn_right"] * 4  # then the verdict


@dataclass
class _Verdict:
    passed: bool | None = True
    score: float = 0.9
    reason: str = "scripted"
    cues: dict[str, float] = field(default_factory=dict)


class ScriptedPrompts:
    """Stands in for liveness (this test is about which frames are embedded): shows
    PROMPTS in turn, then passes. Records the observations it was fed."""

    available, unavailable_reason = True, ""

    def __init__(self) -> None:
        self.fed: list[FaceObservation | None] = []

    def start(self, rng: random.Random | None = None) -> Any:
        outer = self

        class _Session:
            def feed(
                self, obs: FaceObservation | None, frame: np.ndarray, t: float
            ) -> LivenessStep:
                outer.fed.append(obs)
                n = len(outer.fed)
                if n <= len(PROMPTS):
                    return LivenessStep(PROMPTS[n - 1], n / (len(PROMPTS) + 1))
                return LivenessStep(None, 1.0, _Verdict())

        return _Session()


def _door(engine: FaceEngine, tmp_path: Path, every: int) -> tuple[CheckinFlow, ScriptedPrompts]:
    vector = engine.embed_photo(str(DATA / "img26.jpg")).embedding
    applicant = BookedApplicant(
        "A08",
        make_iin(datetime(2004, 1, 10).date(), 5, 200),
        "Name",
        "1",
        "BK-A08",
        [Template(engine.pack_id, vector)],
    )
    session = ExamSession("S-1", "C-1", "R-101", "theory", T0, T0 + timedelta(hours=2))
    roster = Roster("R-1", 3, T0 - timedelta(days=1), T0 + timedelta(days=1), session, [applicant])
    ledger = LedgerStore(tmp_path / "ledger.sqlite", DeviceKeys.load_or_create(tmp_path))
    cfg = KioskConfig()
    cfg.checkin.identity_sample_every = every
    liveness = ScriptedPrompts()
    matcher = Matcher(Calibration(engine.pack_id, 0.40787, 1e-3), pack_id=engine.pack_id)
    flow = CheckinFlow(
        engine,
        roster,
        ledger,
        matcher,
        liveness,
        cfg,
        room="R-101",
        now=T0,
        clock=lambda: 1000.0,
        rng=random.Random(7),
    )
    flow.open_session(ProctorAccount("p.aliyev", "Proctor Aliyev", ProctorRole.PROCTOR))
    return flow, liveness


@pytest.mark.parametrize(("every", "samples"), [(0, 5), (2, 9)])
def test_only_fused_frames_and_identity_samples_are_embedded(
    engine: FaceEngine, tmp_path: Path, every: int, samples: int
) -> None:
    flow, liveness = _door(engine, tmp_path, every)
    flow.claim(booking_code="bk-a08")
    images = [read_image(DATA / f"{n}.jpg") for n in ("img42", "img43", "img44", "img45")]
    capture = [engine.analyze(images[i % 3], embed="none") for i in range(3)]
    for image, analysis in zip(images, capture, strict=False):
        state = flow.on_frame(image, analysis)
    assert state.name is StateName.LIVENESS
    assert all(a.primary.embedding is not None for a in capture)  # the fused frames
    while state.name is StateName.LIVENESS:
        image = images[len(liveness.fed) % 4]
        state = flow.on_frame(image, engine.analyze(image, embed="none"))
    embedded = [obs.embedding is not None for obs in liveness.fed]
    # every=0: the first challenge frame, then the first frame of each new prompt, each
    # with the frame after it (the frame-to-frame identity check needs adjacent frames).
    # every=2: those, plus every second face after the last sample (and its neighbour).
    expected = {
        0: [True, True, True, False, False, True, True, False, False],
        2: [True] * 9,
    }[every]
    assert embedded == expected and sum(embedded) == samples
    body = state.decision.body
    assert state.decision.decision is Decision.ACCEPTED
    assert state.decision.reason is Reason.MATCHED
    assert body["timings_ms"]["faces_embedded"] == 3 + samples
    assert 0.4 < body["liveness"]["continuity"] <= 1.0
    flow.ledger.close()


def test_a_frame_fed_without_analysis_is_not_embedded_until_used(
    engine: FaceEngine, tmp_path: Path
) -> None:
    flow, _ = _door(engine, tmp_path, 0)
    flow.claim(booking_code="bk-a08")
    image = read_image(DATA / "img42.jpg")
    analysis = engine.analyze(image, embed="none")
    flow.on_frame(image, analysis)
    assert analysis.primary.embedding is None  # one good frame of three: nothing to fuse yet
    assert flow._attempt is not None and flow._attempt.embeddings == 0
    flow.ledger.close()
