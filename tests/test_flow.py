"""Check-in flow end to end: real models, real photos, a real signed SQLite ledger.

Roster (templates from one photo each, ../shared/faces people):
  A08 = person08 (enrol img26; probe frames img42/43/44)
  A12 = person12 (enrol img47; its img48/50/51 play a stand-in for A08)
  A00, A09, A03 = person00/09/03 (the rest of the room)
Outsider: person01 (img53/55/12), not on the roster.
Time is injected (a fake monotonic clock and a fixed "now"), so deadlines are exact.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.flow import CheckinFlow, FailClosedLiveness, StateName
from kiosk.checkin.lock import DOOR_UNLOCK_EVENT, DoorLock
from kiosk.checkin.matcher import Calibration, Matcher, find_calibration
from kiosk.checkin.overrides import OverrideReason, OverrideRequest
from kiosk.checkin.proctor import ProctorAccount, ProctorDirectory, ProctorRole
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, Template, make_iin
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ConfigError, PolicyViolation, ProctorAuthError, ProctorLockedOut
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.vision.imageio import read_image
from kiosk.vision.liveness import LivenessChecker, LivenessStep
from kiosk.vision.pipeline import FaceEngine, FrameAnalysis

DATA = Path(__file__).resolve().parent / "data" / "checkin"
# Measured on ../shared/faces with this pack at target FMR 1e-3 (kiosk eval --calibrate).
THRESHOLD = 0.40787
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # session start
ROOM = "R-101"
ENROL = {"A08": "img26", "A12": "img47", "A00": "img1", "A09": "img29", "A03": "img16"}
GENUINE_A08 = ["img42", "img43", "img44"]
STAND_IN_A12 = ["img48", "img50", "img51"]
OUTSIDER = ["img53", "img55", "img12"]
PROCTOR = ProctorAccount("p.aliyev", "Proctor Aliyev", ProctorRole.PROCTOR)


# -- liveness stubs: ONLY for tests about matching and policy, never a real verdict ------


@dataclass
class _Verdict:
    passed: bool | None
    score: float = 0.9
    reason: str = "stub"
    cues: dict[str, float] = field(default_factory=lambda: {"stub": 1.0})


class StubLivenessForMatchingTests:
    """Answers `passed` after `frames` liveness frames (or never, if `frames` is None)."""

    def __init__(
        self, passed: bool | None = True, frames: int | None = 1, facing: bool = True
    ) -> None:
        self.passed, self.frames, self.facing = passed, frames, facing
        self.available, self.unavailable_reason = True, ""

    def start(self, rng: random.Random | None = None) -> Any:
        stub = self

        class _Session:
            seen = 0

            def feed(self, obs: Any, frame: np.ndarray, t: float) -> LivenessStep:
                self.seen += 1
                if stub.frames is None or self.seen < stub.frames:
                    return LivenessStep("turn_left", 0.5, facing=stub.facing)
                return LivenessStep(None, 1.0, _Verdict(stub.passed), facing=stub.facing)

        return _Session()


class UnavailableLiveness:
    available, unavailable_reason = False, "pad_model_unavailable:model_integrity"

    def start(self, rng: random.Random | None = None) -> Any:
        raise AssertionError("the flow must not start an unavailable checker")


# -- fixtures --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(scope="session")
def frames(engine: FaceEngine) -> dict[str, tuple[np.ndarray, FrameAnalysis]]:
    """Each test image decoded and analysed once per test session."""
    out = {}
    for path in sorted(DATA.glob("*.jpg")):
        image = read_image(path)
        out[path.stem] = (image, engine.analyze(image))
    out["couple"] = (img := read_image(DATA.parent / "couple.jpg"), engine.analyze(img))
    return out


@pytest.fixture(scope="session")
def roster(engine: FaceEngine) -> Roster:
    applicants = []
    for i, (aid, img) in enumerate(ENROL.items()):
        vector = engine.embed_photo(str(DATA / f"{img}.jpg")).embedding
        iin = make_iin(date(2004, 1, 10 + i), 5, 200 + i)
        template = Template(engine.pack_id, vector)
        applicants.append(
            BookedApplicant(aid, iin, f"Name {aid}", str(i + 1), f"BK-{aid}", [template])
        )
    session = ExamSession("S-1", "C-1", ROOM, "theory", T0, T0 + timedelta(hours=2))
    return Roster("R-1", 3, T0 - timedelta(days=1), T0 + timedelta(days=1), session, applicants)


@pytest.fixture
def ledger(tmp_path: Path) -> LedgerStore:
    store = LedgerStore(tmp_path / "ledger.sqlite", DeviceKeys.load_or_create(tmp_path))
    yield store
    store.close()


@pytest.fixture
def cfg() -> KioskConfig:
    return KioskConfig()


@dataclass
class Kit:
    flow: CheckinFlow
    clock: FakeClock
    ledger: LedgerStore
    frames: dict[str, tuple[np.ndarray, FrameAnalysis]]
    doors: list[dict[str, Any]]

    def feed(self, *names: str):
        state = self.flow.state
        for name in names:
            image, analysis = self.frames[name]
            state = self.flow.on_frame(image, analysis)
        return state

    def records(self, rtype: str) -> list[Any]:
        return [e for e in self.ledger.iter_envelopes() if e.record.type == rtype]


@pytest.fixture
def make(engine, roster, ledger, cfg, frames):
    def _make(
        liveness: Any = "pass",
        *,
        roster_: Roster | None = None,
        now: datetime = T0,
        room: str = ROOM,
        open_session: bool = True,
    ) -> Kit:
        if liveness == "pass":
            liveness = StubLivenessForMatchingTests()
        clock, doors = FakeClock(), []
        matcher = Matcher(Calibration(engine.pack_id, THRESHOLD, 1e-3), pack_id=engine.pack_id)
        flow = CheckinFlow(
            engine,
            roster_ or roster,
            ledger,
            matcher,
            liveness,
            cfg,
            room=room,
            clock=clock,
            now=now,
            door_lock=DoorLock(ledger, doors.append),
            rng=random.Random(7),
        )
        if open_session:
            flow.open_session(PROCTOR)
        return Kit(flow, clock, ledger, frames, doors)

    return _make


def _walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    return out


def assert_no_biometrics(body: dict[str, Any]) -> None:
    """No image, no embedding, no template in a record body."""
    text = json.dumps(body)
    for word in ("embedding", "vector", "template", "image", "aligned", "pixels", "iin"):
        assert f'"{word}' not in text, word
    longest = max((len(v) for v in _walk(body) if isinstance(v, list)), default=0)
    assert longest <= 8, "a long number list in a record looks like an embedding"
    assert len(text) < 4000


# -- accepted --------------------------------------------------------------------------------


def test_genuine_applicant_is_accepted_and_a_signed_record_written(make) -> None:
    kit = make()  # liveness stub: this test is about matching
    seen: list[StateName] = []
    kit.flow.subscribe(lambda s: seen.append(s.name))
    state = kit.flow.claim(booking_code="bk-a08")
    assert state.name is StateName.CLAIMED and state.applicant.name == "Name A08"
    image, _ = kit.frames["img42"]
    state = kit.flow.on_frame(image)  # analysis=None: the flow runs the engine itself
    assert state.name is StateName.CAPTURE and state.progress == pytest.approx(1 / 3)
    state = kit.feed("img43", "img44")
    assert state.name is StateName.LIVENESS
    state = kit.feed("img42")
    assert state.name is StateName.DECISION
    d = state.decision
    assert (d.decision, d.reason) == (Decision.ACCEPTED, Reason.MATCHED)
    assert d.score > 0.6 > THRESHOLD and d.threshold == THRESHOLD
    assert seen[-3:] == [StateName.LIVENESS, StateName.MATCH, StateName.DECISION]

    (rec,) = kit.records("checkin")
    assert rec.record.id == d.record_id and kit.ledger.verify() == 2  # session_open + checkin
    body = rec.record.body
    assert body["applicant_id"] == "A08" and body["session_id"] == "S-1" and body["room"] == ROOM
    assert (
        body["decision"] == "accepted" and body["attempt"] == 1 and body["claim"] == "booking_code"
    )
    assert body["pack_id"] == kit.flow.engine.pack_id and body["threshold"] == THRESHOLD
    assert body["second_best"] < THRESHOLD and body["match"]["frames_used"] == 3
    assert body["match"]["gallery_size"] == 4 and body["liveness"]["passed"] is True
    assert body["quality"]["frames_good"] == 3 and body["quality"]["best"]["ok"] is True
    assert set(body["timings_ms"]) >= {"capture", "liveness", "match", "total"}
    assert_no_biometrics(body)
    assert kit.doors == [{"trigger": "admitted", "applicant_id": "A08", "record_id": d.record_id}]

    kit.clock.advance(kit.flow.cfg.checkin.decision_display_s)
    assert kit.flow.tick().name is StateName.IDLE
    again = kit.flow.claim(iin=kit.flow.roster.by_applicant_id("A08").iin)
    assert again.decision.reason is Reason.ALREADY_CHECKED_IN
    assert again.decision.decision is Decision.NEEDS_PROCTOR


def test_fail_closed_default_sends_a_genuine_applicant_to_a_proctor(make) -> None:
    kit = make(liveness=None)  # no checker given: the flow must not accept on its own
    assert isinstance(kit.flow.liveness, FailClosedLiveness)
    kit.flow.claim(booking_code="BK-A08")
    state = kit.feed(*GENUINE_A08, "img42")
    d = state.decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNDECIDED)
    assert d.score > THRESHOLD  # the face matched; liveness is what is missing
    assert kit.doors == []


def test_unavailable_liveness_goes_to_a_proctor_with_the_reason(make) -> None:
    kit = make(liveness=UnavailableLiveness())
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*GENUINE_A08).decision  # no liveness state at all
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNAVAILABLE)
    assert d.body["liveness"]["unavailable_reason"].startswith("pad_model_unavailable")


# -- impostors -------------------------------------------------------------------------------


def test_stand_in_from_the_roster_is_rejected_and_named(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*STAND_IN_A12, "img48").decision
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.SUSPECTED_STAND_IN)
    match = d.body["match"]
    assert match["score"] < THRESHOLD < match["second_best"]
    assert match["second_best_applicant"] == "A12" and match["outcome"] == "stand_in"
    assert d.attempt == 1 and kit.doors == []


def test_outsider_is_rejected_as_no_match(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*OUTSIDER, "img53").decision
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.NO_MATCH)
    assert d.score < THRESHOLD and d.body["second_best"] < THRESHOLD
    assert d.body["match"]["second_best_applicant"] is None  # nobody else is implicated
    assert_no_biometrics(d.body)


def test_look_alike_on_the_roster_sends_a_match_to_a_proctor(make, roster, engine) -> None:
    # Two booked applicants enrolled with photos of the same person: the match is
    # ambiguous, so the door does not decide alone.
    twin_vec = engine.embed_photo(str(DATA / "img45.jpg")).embedding
    twin = BookedApplicant(
        "TWIN",
        make_iin(date(2004, 2, 2), 5, 300),
        "Twin",
        "9",
        "BK-TWIN",
        [Template(engine.pack_id, twin_vec)],
    )
    kit = make(roster_=replace(roster, applicants=[*roster.applicants, twin]))
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*GENUINE_A08, "img42").decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.AMBIGUOUS_IDENTITY)
    assert d.body["match"]["second_best_applicant"] == "TWIN"


def test_face_swapped_during_liveness_is_rejected(make) -> None:
    kit = make(liveness=StubLivenessForMatchingTests(passed=True, frames=2))
    kit.flow.claim(booking_code="BK-A08")
    kit.feed(*GENUINE_A08)
    d = kit.feed("img53", "img55").decision  # someone else does the head turns
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.FACE_CHANGED)
    assert d.body["liveness"]["continuity"] < THRESHOLD


def test_a_live_verdict_with_no_sample_facing_the_camera_goes_to_a_proctor(make) -> None:
    # the session says live, but no sample it took faced the camera, so none was held to
    # the match threshold against the captured face: who did the challenge is unconfirmed
    kit = make(liveness=StubLivenessForMatchingTests(passed=True, frames=2, facing=False))
    kit.flow.claim(booking_code="BK-A08")
    kit.feed(*GENUINE_A08)
    d = kit.feed("img53", "img55").decision  # someone else, turned: not compared
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.LIVENESS_UNDECIDED)
    assert d.body["liveness"]["continuity"] is None


def test_failed_liveness_is_rejected_even_when_the_face_matches(make) -> None:
    kit = make(liveness=StubLivenessForMatchingTests(passed=False))
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*GENUINE_A08, "img42").decision
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.LIVENESS_FAILED)


# -- refusals before capture ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "now", "room", "reason"),
    [
        ({"booking_code": "NOPE-1"}, T0, ROOM, Reason.UNKNOWN_BOOKING),
        ({"iin": "040110500000"}, T0, ROOM, Reason.UNKNOWN_BOOKING),
        ({"booking_code": "BK-A08"}, T0, "R-999", Reason.WRONG_ROOM),
        ({"booking_code": "BK-A08"}, T0 - timedelta(minutes=46), ROOM, Reason.TOO_EARLY),
        ({"booking_code": "BK-A08"}, T0 + timedelta(minutes=16), ROOM, Reason.TOO_LATE),
        ({"booking_code": "BK-A08"}, T0 + timedelta(days=2), ROOM, Reason.ROSTER_EXPIRED),
    ],
)
def test_claim_refusals_go_to_a_proctor_with_a_signed_record(
    make, claim, now, room, reason
) -> None:
    kit = make(now=now, room=room)
    d = kit.flow.claim(**claim).decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, reason)
    (rec,) = kit.records("checkin")
    assert rec.record.body["reason"] == reason.value and rec.record.body["score"] is None
    assert kit.ledger.verify() == 2


def test_check_in_window_edges_are_inclusive(make) -> None:
    for now in (T0 - timedelta(minutes=45), T0 + timedelta(minutes=15)):
        kit = make(now=now, open_session=False)
        if not kit.flow.book.is_open:
            kit.flow.open_session(PROCTOR)
        assert kit.flow.claim(booking_code="BK-A09").name is StateName.CLAIMED
        kit.flow.cancel()


def test_session_not_open_refuses_and_close_reports_counts(make) -> None:
    kit = make(open_session=False)
    d = kit.flow.claim(booking_code="BK-A08").decision
    assert d.reason is Reason.SESSION_NOT_OPEN
    with pytest.raises(PolicyViolation):
        kit.flow.close_session(PROCTOR)
    kit.flow.open_session(PROCTOR)
    with pytest.raises(PolicyViolation, match="already open"):
        kit.flow.open_session(PROCTOR)
    kit.flow.claim(booking_code="BK-A08")
    kit.feed(*GENUINE_A08, "img42")
    env = kit.flow.close_session(PROCTOR)
    body = env.record.body
    assert (body["booked"], body["checked_in"], body["no_show"], body["accepted"]) == (5, 1, 4, 1)
    assert kit.flow.claim(booking_code="BK-A09").decision.reason is Reason.SESSION_NOT_OPEN
    technician = ProctorAccount("t1", "Tech", ProctorRole.TECHNICIAN)
    with pytest.raises(PolicyViolation, match="needs proctor"):
        kit.flow.open_session(technician)


def test_attempts_are_limited_per_applicant_and_survive_a_restart(make, cfg) -> None:
    cfg.checkin.max_attempts = 2
    kit = make()
    for attempt in (1, 2):
        kit.flow.claim(booking_code="BK-A08")
        d = kit.feed(*OUTSIDER, "img53").decision
        assert (d.reason, d.attempt) == (Reason.NO_MATCH, attempt)
    # The last refusal holds the screen for a proctor; the next claim waits for that.
    assert kit.flow.state.hold and kit.flow.state.attempts_left == 0
    assert kit.flow.claim(booking_code="BK-A08") is kit.flow.state
    kit.flow.acknowledge()
    d = kit.flow.claim(booking_code="BK-A08").decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.ATTEMPTS_EXHAUSTED)
    kit.flow.acknowledge()
    assert kit.flow.claim(booking_code="BK-A09").name is StateName.CLAIMED  # others unaffected
    kit.flow.cancel()
    # A restarted kiosk rebuilds the counters from the ledger: no fresh attempts.
    restarted = make(open_session=False)
    assert restarted.flow.book.is_open
    d = restarted.flow.claim(booking_code="BK-A08").decision
    assert d.reason is Reason.ATTEMPTS_EXHAUSTED


def test_capture_timeout_reports_the_last_quality_reason(make, frames) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    state = kit.feed("couple", "couple")  # two people in view: never a good frame
    assert state.name is StateName.CAPTURE and state.prompt == "only_one_person"
    kit.clock.advance(kit.flow.cfg.checkin.capture_timeout_s + 0.01)
    d = kit.flow.tick().decision
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.CAPTURE_TIMEOUT)
    assert d.detail == "only_one_person" and d.attempt == 1
    assert d.body["quality"]["reasons_seen"] == {"only_one_person": 2}


def test_dark_frames_prompt_and_time_out(make, frames) -> None:
    kit = make()
    image, _ = frames["img42"]
    dark = (image * 0.15).astype(np.uint8)
    kit.flow.claim(booking_code="BK-A08")
    state = kit.flow.on_frame(dark)
    assert state.name is StateName.CAPTURE and state.prompt == "too_dark"
    kit.clock.advance(100)
    assert kit.flow.on_frame(dark).decision.detail == "too_dark"  # deadline applied on a frame


def test_claim_times_out_when_nobody_steps_up(make, frames) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    empty = np.full((480, 640, 3), 90, np.uint8)
    assert kit.flow.on_frame(empty).name is StateName.CLAIMED
    kit.clock.advance(kit.flow.cfg.checkin.claim_timeout_s)
    state = kit.flow.tick()
    assert (state.name, state.reason) == (StateName.IDLE, Reason.CLAIM_TIMEOUT)
    assert kit.records("checkin") == []  # no face, no decision about anyone


def test_liveness_timeout_and_cancel_use_an_attempt(make) -> None:
    kit = make(liveness=StubLivenessForMatchingTests(frames=None))  # never decides
    kit.flow.claim(booking_code="BK-A08")
    state = kit.feed(*GENUINE_A08, "img42")
    assert state.name is StateName.LIVENESS and state.prompt == "turn_left"
    kit.clock.advance(kit.flow.cfg.checkin.liveness_timeout_s)
    d = kit.flow.tick().decision
    assert (d.decision, d.reason) == (Decision.REJECTED, Reason.LIVENESS_TIMEOUT)
    assert d.body["liveness"]["reason"] == "timeout" and d.score > THRESHOLD
    kit.flow.claim(booking_code="BK-A08")
    kit.feed("img42")
    d = kit.flow.cancel().decision
    assert (d.reason, d.attempt) == (Reason.CANCELLED, 2)


def test_qr_claim_from_a_camera_frame(make) -> None:
    kit = make()
    qr = cv2.QRCodeEncoder.create().encode("BOOKING:BK-A09")
    qr = cv2.resize(qr, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    frame = cv2.cvtColor(
        cv2.copyMakeBorder(qr, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255), cv2.COLOR_GRAY2BGR
    )
    state = kit.flow.claim_from_frame(frame)
    assert state.name is StateName.CLAIMED and state.applicant.applicant_id == "A09"
    assert kit.flow.claim_from_frame(np.zeros((200, 200, 3), np.uint8)) is None
    with pytest.raises(PolicyViolation, match="in progress"):
        kit.flow.claim(booking_code="BK-A00")


def test_templates_of_another_pack_are_refused_not_compared(make, roster) -> None:
    foreign = [
        replace(a, templates=[Template("other-pack", a.templates[0].vector)])
        if a.applicant_id == "A08"
        else a
        for a in roster.applicants
    ]
    kit = make(roster_=replace(roster, applicants=foreign))
    kit.flow.claim(booking_code="BK-A08")
    d = kit.feed(*GENUINE_A08, "img42").decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.NO_TEMPLATE)
    assert "other-pack" in d.detail


def test_no_calibration_refuses_to_build_a_matcher(engine, tmp_path) -> None:
    cfg = KioskConfig()
    bare_pack = replace(engine.pack, calibration="")
    with pytest.raises(ConfigError, match="will not guess"):
        find_calibration(cfg, bare_pack)
    cfg.match.calibration_file = str(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        Matcher.from_config(cfg, engine.pack)


# -- proctors --------------------------------------------------------------------------------


def test_override_with_reason_and_note_writes_a_signed_record(make) -> None:
    kit = make(liveness=None)
    kit.flow.claim(booking_code="BK-A08")
    refused = kit.feed(*GENUINE_A08, "img42").decision
    assert refused.decision is Decision.NEEDS_PROCTOR
    request = OverrideRequest(
        PROCTOR.proctor_id,
        OverrideReason.DOCUMENT_CHECKED_MANUALLY,
        "ID card checked against the booking",
        refused.record_id,
    )
    env = kit.flow.override(PROCTOR, request)
    body = env.record.body
    assert body["refused_record_id"] == refused.record_id and body["proctor_id"] == "p.aliyev"
    assert body["reason"] == "document_checked_manually" and body["applicant_id"] == "A08"
    assert body["note"] == "ID card checked against the booking"
    assert body["refused_reason"] == "liveness_undecided"
    assert body["decision"] == "accepted_by_override"
    assert kit.flow.state.decision.decision is Decision.ACCEPTED_BY_OVERRIDE
    assert kit.doors[-1]["record_id"] == env.record.id
    assert kit.ledger.verify() == 3
    with pytest.raises(PolicyViolation, match="already"):
        kit.flow.override(PROCTOR, request)
    assert kit.flow.claim(booking_code="BK-A08").decision.reason is Reason.ALREADY_CHECKED_IN


def test_override_without_a_note_or_by_the_wrong_person_is_refused(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    refused = kit.feed(*OUTSIDER, "img53").decision
    with pytest.raises(PolicyViolation, match="note"):
        OverrideRequest(PROCTOR.proctor_id, OverrideReason.OTHER, "  ", refused.record_id)
    ok_note = "checked the passport by hand"
    other = OverrideRequest(
        "someone.else", OverrideReason.APPEARANCE_CHANGED, ok_note, refused.record_id
    )
    with pytest.raises(PolicyViolation, match="signed-in proctor"):
        kit.flow.override(PROCTOR, other)
    tech = ProctorAccount("t1", "Tech", ProctorRole.TECHNICIAN)
    with pytest.raises(PolicyViolation):
        kit.flow.override(tech, replace(other, proctor_id="t1"))
    unknown = kit.flow.claim(booking_code="NOPE").decision
    with pytest.raises(PolicyViolation, match="unknown booking"):
        kit.flow.override(
            PROCTOR,
            replace(other, proctor_id=PROCTOR.proctor_id, refused_record_id=unknown.record_id),
        )
    assert kit.records("override") == []


def test_pin_lockout_through_the_flow_is_recorded(make, tmp_path) -> None:
    kit = make()
    directory = ProctorDirectory(tmp_path / "proctors.sqlite", pin_key=bytes(32))
    directory.add("p.aliyev", "Proctor Aliyev", "proctor", "2580")
    for _ in range(4):
        with pytest.raises(ProctorAuthError, match=r"^proctor id or PIN not accepted$"):
            kit.flow.authenticate(directory, "p.aliyev", "1111")
    with pytest.raises(ProctorLockedOut):
        kit.flow.authenticate(directory, "p.aliyev", "1111")
    with pytest.raises(ProctorLockedOut):  # even the right PIN, while locked out
        kit.flow.authenticate(directory, "p.aliyev", "2580")
    events = [e.record.body for e in kit.records("device_event")]
    assert [e["event"] for e in events] == ["proctor_locked_out"] * 2
    assert all(e["proctor_id"] == "p.aliyev" for e in events)
    later = make(now=T0 + timedelta(minutes=6), open_session=False)
    account = later.flow.authenticate(directory, "p.aliyev", "2580")
    assert account.role is ProctorRole.PROCTOR
    directory.close()


def test_manual_door_unlock_is_a_signed_device_event(make) -> None:
    kit = make()
    env = kit.flow.door_lock.unlock_manually(PROCTOR, "fire drill", session_id="S-1")
    assert env.record.body["event"] == DOOR_UNLOCK_EVENT
    assert env.record.body["proctor_id"] == "p.aliyev"
    assert kit.doors[-1] == {
        "trigger": "proctor",
        "proctor_id": "p.aliyev",
        "record_id": env.record.id,
    }
    with pytest.raises(PolicyViolation, match="why"):
        kit.flow.door_lock.unlock_manually(PROCTOR, "")


def test_face_leaving_during_liveness_is_fed_and_prompted(make) -> None:
    seen: list[object] = []

    class Recording(StubLivenessForMatchingTests):
        def start(self, rng=None):
            inner = super().start(rng)
            original = inner.feed

            def feed(obs, frame, t):
                seen.append(obs)
                return original(obs, frame, t)

            inner.feed = feed
            return inner

    kit = make(liveness=Recording(frames=None))
    kit.flow.claim(booking_code="BK-A08")
    kit.feed(*GENUINE_A08)
    state = kit.flow.on_frame(np.full((480, 640, 3), 90, np.uint8))
    assert state.name is StateName.LIVENESS and state.prompt == "no_face"
    assert seen == [None]  # the checker sees the gap (a photo swapped out is a cue)


def test_real_liveness_checker_never_accepts_still_photos(make, engine, cfg) -> None:
    kit = make(liveness=LivenessChecker.from_config(cfg, engine))
    kit.flow.claim(booking_code="BK-A08")
    state = kit.feed(*GENUINE_A08)
    for _ in range(200):  # the same still photo, 10 frames a second
        if state.name is not StateName.LIVENESS:
            break
        kit.clock.advance(0.1)
        state = kit.feed("img42")
    d = state.decision
    assert d is not None and (d.reason, d.admits) == (Reason.LIVENESS_FAILED, False), d
    assert d.score > THRESHOLD  # the face matched; liveness is what stopped it


# -- the flow's clock is public (the UI's countdown reads it) --------------------------------


def test_flow_clock_is_public_and_deadlines_are_measured_on_it(make) -> None:
    kit = make()
    assert kit.flow.clock is kit.clock
    assert kit.flow.now_monotonic() == kit.clock.t
    state = kit.flow.claim(booking_code="BK-A08")
    timeout = kit.flow.cfg.checkin.claim_timeout_s
    assert state.deadline - kit.flow.now_monotonic() == pytest.approx(timeout)
    kit.clock.advance(timeout - 1)
    assert kit.flow.now_monotonic() < state.deadline and kit.flow.tick().name is StateName.CLAIMED
    kit.clock.advance(1)
    assert kit.flow.tick().name is StateName.IDLE


# -- a booking QR still in view after its decision -------------------------------------------


def _qr_frame(payload: str) -> np.ndarray:
    qr = cv2.QRCodeEncoder.create().encode(payload)
    qr = cv2.resize(qr, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    page = cv2.copyMakeBorder(qr, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)


def test_qr_still_in_view_after_the_decision_is_ignored_without_a_record(make) -> None:
    kit = make()
    held = _qr_frame("BOOKING:BK-A08")
    assert kit.flow.claim_from_frame(held).name is StateName.CLAIMED
    assert kit.feed(*GENUINE_A08, "img42").decision.decision is Decision.ACCEPTED
    # While the result is shown the same QR changes nothing (nor does a direct claim).
    assert kit.flow.claim(qr_payload="booking:bk-a08").name is StateName.DECISION
    kit.clock.advance(kit.flow.cfg.checkin.decision_display_s)
    assert kit.flow.tick().name is StateName.IDLE

    window = kit.flow.cfg.checkin.qr_repeat_ignore_s
    assert window == 10.0  # the default
    kit.clock.advance(window - 0.5)
    assert kit.flow.claim_from_frame(held) is None  # the applicant is still holding it
    assert kit.flow.state.name is StateName.IDLE
    assert len(kit.records("checkin")) == 1  # no "already checked in" refusal written

    kit.clock.advance(0.5)  # the window is over: the same QR is an ordinary claim again
    again = kit.flow.claim_from_frame(held)
    assert again.decision.reason is Reason.ALREADY_CHECKED_IN
    assert len(kit.records("checkin")) == 2


def test_another_qr_right_after_a_decision_is_claimed_normally(make) -> None:
    kit = make()
    kit.flow.claim_from_frame(_qr_frame("BOOKING:BK-A08"))
    refused = kit.feed(*OUTSIDER, "img53").decision  # an outsider with A08's printout
    assert refused.reason is Reason.NO_MATCH
    kit.clock.advance(kit.flow.cfg.checkin.decision_display_s)
    kit.flow.tick()
    # A08's printout still in view costs A08 no attempt...
    assert kit.flow.claim_from_frame(_qr_frame("BOOKING:BK-A08")) is None
    assert kit.flow.book.attempts_used("A08") == 1
    # ...but the next applicant's QR is claimed at once.
    state = kit.flow.claim_from_frame(_qr_frame("BOOKING:BK-A09"))
    assert state.name is StateName.CLAIMED and state.applicant.applicant_id == "A09"


def test_qr_repeat_window_is_configurable_and_zero_turns_it_off(make, cfg) -> None:
    cfg.checkin.qr_repeat_ignore_s = 0.0
    kit = make()
    unknown = _qr_frame("BOOKING:NOT-BOOKED")
    assert kit.flow.claim_from_frame(unknown).decision.reason is Reason.UNKNOWN_BOOKING
    kit.clock.advance(kit.flow.cfg.checkin.decision_display_s)
    kit.flow.tick()
    assert kit.flow.claim_from_frame(unknown).decision.reason is Reason.UNKNOWN_BOOKING
    assert len(kit.records("checkin")) == 2
    with pytest.raises(ConfigError, match="qr_repeat_ignore_s"):
        load_config(environ={"KIOSK_CHECKIN_QR_REPEAT_IGNORE_S": "-1"})


# -- camera stream guard ----------------------------------------------------------------------


def test_suspicious_camera_stream_sends_a_match_to_a_proctor(make) -> None:
    """A perfect match on a frozen/replayed stream is not the kiosk's to accept."""
    kit = make()
    kit.flow.claim(booking_code="bk-a08")
    kit.feed("img42")
    kit.flow.report_stream_events([{"event": "camera_stream", "kind": "frozen_stream"}])
    state = kit.feed("img43", "img44", "img42")
    d = state.decision
    assert (d.decision, d.reason) == (Decision.NEEDS_PROCTOR, Reason.CAMERA_STREAM_SUSPICIOUS)
    assert d.score > THRESHOLD  # the face matched: the stream is what is in doubt
    (event,) = kit.records("device_event")
    assert event.record.body["kind"] == "frozen_stream"
    (rec,) = kit.records("checkin")
    assert rec.record.body["camera_stream"] == ["frozen_stream"]
    assert kit.doors == []


def test_stream_guard_on_the_driver_reports_a_frozen_camera(make) -> None:
    from kiosk.app.driver import DoorDriver
    from kiosk.camera.grabber import GrabbedFrame
    from kiosk.camera.stream_guard import StreamGuard, StreamGuardConfig

    kit = make()
    driver = DoorDriver(
        kit.flow.engine,
        kit.flow,
        stream_guard=StreamGuard(StreamGuardConfig(fps=10)),
        source_name="camera 0",
    )
    kit.flow.claim(booking_code="bk-a08")
    image, _ = kit.frames["img42"]
    for i in range(5):  # the same bytes again and again, at the camera's pace
        driver.process(GrabbedFrame(image, i + 1, 100.0 + i * 0.1))
    kinds = {e.record.body["kind"] for e in kit.records("device_event")}
    assert "frozen_stream" in kinds
    assert all(e.record.body["source"] == "camera 0" for e in kit.records("device_event"))
