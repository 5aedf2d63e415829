"""After a decision: try again while attempts remain, hold for a proctor otherwise, and
say where to go or when to come back. Real models, real photos, a real signed ledger;
the fixtures are the flow tests' own (tests/test_flow.py)."""

# ruff: noqa: F811  (pytest fixtures imported from a shared module, then used by name)
from __future__ import annotations

from datetime import timedelta

import pytest
from test_flow import (  # noqa: F401  (fixtures used by name)
    GENUINE_A08,
    OUTSIDER,
    PROCTOR,
    ROOM,
    T0,
    StubLivenessForMatchingTests,
    cfg,
    frames,
    ledger,
    make,
    roster,
)

from kiosk.checkin.decision import Decision, Reason
from kiosk.checkin.flow import StateName
from kiosk.checkin.next_step import reference_code
from kiosk.checkin.overrides import OverrideReason, OverrideRequest
from kiosk.checkin.states import ApplicantView, NextStep
from kiosk.errors import PolicyViolation


def test_a_first_failure_offers_try_again_and_the_retry_can_pass(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    s = kit.feed(*OUTSIDER, "img53")
    assert (s.decision.decision, s.decision.reason) == (Decision.REJECTED, Reason.NO_MATCH)
    assert (s.next_step, s.attempts_left, s.hold) == (NextStep.TRY_AGAIN, 2, False)
    # The offer stays as long as a claim would wait, not the 6 s of a plain result.
    assert s.deadline == kit.clock() + kit.flow.cfg.checkin.claim_timeout_s
    claimed = kit.flow.retry()
    assert (claimed.name, claimed.attempt) == (StateName.CLAIMED, 2)
    s = kit.feed(*GENUINE_A08, "img42")
    assert (s.decision.decision, s.next_step) == (Decision.ACCEPTED, NextStep.GO_IN)
    bodies = [e.record.body for e in kit.records("checkin")]
    assert [(b["attempt"], b["decision"], b["claim"]) for b in bodies] == [
        (1, "rejected", "booking_code"),
        (2, "accepted", "booking_code"),
    ]


def test_retry_is_refused_when_the_screen_does_not_offer_it(make) -> None:
    kit = make()
    with pytest.raises(PolicyViolation, match="no attempt to try again"):
        kit.flow.retry()
    kit.flow.claim(booking_code="BK-A08")
    kit.feed(*GENUINE_A08, "img42")
    with pytest.raises(PolicyViolation):
        kit.flow.retry()  # admitted: nothing to retry
    assert len(kit.records("checkin")) == 1


def test_a_stand_in_is_held_for_a_proctor_not_offered_a_retry(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    s = kit.feed("img48", "img50", "img51", "img48")
    assert s.decision.reason is Reason.SUSPECTED_STAND_IN
    assert (s.next_step, s.hold, s.deadline, s.attempts_left) == (
        NextStep.WAIT_FOR_PROCTOR,
        True,
        None,
        2,
    )
    assert s.reference == reference_code(s.decision.record_id)
    assert len(s.reference) == 4 and s.reference.isdigit()
    kit.clock.advance(3600)
    assert kit.flow.tick() is s  # a held result never times out
    assert kit.flow.claim(booking_code="BK-A09") is s  # nor is it wiped by the next claim
    assert kit.flow.acknowledge().name is StateName.IDLE
    assert kit.flow.claim(booking_code="BK-A09").name is StateName.CLAIMED


def test_an_override_turns_the_held_screen_into_go_in(make) -> None:
    kit = make(liveness=None)  # fail-closed liveness: a match goes to a proctor
    kit.flow.claim(booking_code="BK-A08")
    held = kit.feed(*GENUINE_A08, "img42")
    assert (held.next_step, held.hold) == (NextStep.WAIT_FOR_PROCTOR, True)
    request = OverrideRequest(
        PROCTOR.proctor_id,
        OverrideReason.RELIGIOUS_HEAD_COVERING,
        "Headscarf kept on; face compared with the booking photo",
        held.decision.record_id,
    )
    kit.flow.override(PROCTOR, request)
    s = kit.flow.state
    assert (s.next_step, s.hold, s.decision.decision) == (
        NextStep.GO_IN,
        False,
        Decision.ACCEPTED_BY_OVERRIDE,
    )
    assert s.deadline == kit.clock() + kit.flow.cfg.checkin.decision_display_s
    (override,) = kit.records("override")
    assert override.record.body["reason"] == "religious_head_covering"


def test_call_staff_holds_a_result_that_would_clear(make) -> None:
    kit = make()
    kit.flow.claim(booking_code="BK-A08")
    s = kit.feed(*OUTSIDER, "img53")
    assert not s.hold
    held = kit.flow.call_staff()
    assert (held.hold, held.deadline, held.next_step) == (True, None, NextStep.TRY_AGAIN)
    assert kit.flow.retry().name is StateName.CLAIMED  # the applicant may still retry


@pytest.mark.parametrize(
    ("now", "room", "step", "go_to", "opens"),
    [
        (T0, "R-999", NextStep.GO_TO_ROOM, ROOM, None),
        (
            T0 - timedelta(minutes=46),
            ROOM,
            NextStep.COME_BACK_LATER,
            None,
            T0 - timedelta(minutes=45),
        ),
        (T0 + timedelta(minutes=16), ROOM, NextStep.WAIT_FOR_PROCTOR, None, None),
    ],
)
def test_claim_refusals_say_where_to_go_or_when_to_come_back(
    make, now, room, step, go_to, opens
) -> None:
    kit = make(now=now, room=room)
    s = kit.flow.claim(booking_code="BK-A08")
    assert (s.next_step, s.go_to_room, s.opens_at) == (step, go_to, opens)
    assert s.hold is (step == NextStep.WAIT_FOR_PROCTOR)


def test_unknown_booking_asks_to_check_the_code_and_clears(make) -> None:
    kit = make()
    s = kit.flow.claim(booking_code="NOPE-1")
    assert (s.next_step, s.hold) == (NextStep.CHECK_CODE, False)
    assert s.deadline == kit.clock() + kit.flow.cfg.checkin.decision_display_s


def test_each_liveness_step_has_its_own_deadline(make) -> None:
    kit = make(liveness=StubLivenessForMatchingTests(frames=None))  # never decides
    kit.flow.claim(booking_code="BK-A08")
    s = kit.feed(*GENUINE_A08, "img42")
    assert s.name is StateName.LIVENESS and s.prompt == "turn_left"
    step_s = kit.flow.cfg.liveness.step_timeout_s
    assert s.step_deadline == kit.clock() + step_s
    kit.clock.advance(1.0)
    assert kit.feed("img43").step_deadline == kit.clock() - 1.0 + step_s  # same step


def test_the_screen_gets_initials_not_the_full_name() -> None:
    assert ApplicantView("a", "Aigerim Sadykova", "12").initials == "A. S."
    assert ApplicantView("a", "Жанна  Әлиева Бекқызы", "3").initials == "Ж. Ә. Б."
