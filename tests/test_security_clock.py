"""Clock jumps and centre skew become signed device_event records."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from kiosk.ledger.clock import (
    CLOCK_JUMP_EVENT,
    CLOCK_SKEW_EVENT,
    ClockGuard,
    ClockJumpDetector,
    boottime,
    centre_skew,
)
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore

T0 = 1_780_000_000.0  # a wall-clock epoch in 2026


class Clocks:
    """A wall clock someone can set, and a steady clock nobody can."""

    def __init__(self) -> None:
        self.wall_t = T0
        self.steady_t = 5_000.0

    def tick(self, seconds: float) -> None:
        self.wall_t += seconds
        self.steady_t += seconds

    def wall(self) -> float:
        return self.wall_t

    def steady(self) -> float:
        return self.steady_t


@pytest.fixture
def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load_or_create(tmp_path)) as store:
        yield store


def test_normal_time_and_slow_slew_are_not_jumps() -> None:
    c = Clocks()
    det = ClockJumpDetector(2.0, wall=c.wall, steady=c.steady)
    for _ in range(100):
        c.tick(10.0)
        c.wall_t += 0.05  # NTP slewing a little each poll
        assert det.poll() is None


def test_a_clock_set_back_is_recorded_as_a_signed_clock_jump(ledger: LedgerStore) -> None:
    c = Clocks()
    guard = ClockGuard(ledger, wall=c.wall, steady=c.steady)
    c.tick(30.0)
    assert guard.poll() is None
    c.tick(10.0)
    c.wall_t -= 25 * 60  # someone sets the clock back 25 minutes
    jump = guard.poll()
    assert jump is not None and jump.jump_s == pytest.approx(-1500.0)
    c.tick(10.0)
    assert guard.poll() is None  # reported once, then the new baseline holds
    (env,) = list(ledger.iter_envelopes())
    assert env.record.type == "device_event"
    body = env.record.body
    assert body["event"] == CLOCK_JUMP_EVENT and body["direction"] == "backward"
    assert body["jump_s"] == pytest.approx(-1500.0)
    assert body["elapsed_s"] == pytest.approx(10.0)
    assert body["wall_after"] < body["wall_before"]  # ISO-8601 UTC strings sort as times
    assert ledger.verify() == 1


def test_a_forward_jump_is_recorded_too(ledger: LedgerStore) -> None:
    c = Clocks()
    guard = ClockGuard(ledger, jump_tolerance_s=2.0, wall=c.wall, steady=c.steady)
    c.tick(1.0)
    c.wall_t += 3600
    jump = guard.poll()
    assert jump is not None and jump.record_body()["direction"] == "forward"


def test_boottime_only_moves_forward() -> None:
    a = boottime()
    b = boottime()
    assert b >= a > 0


def _date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


def test_centre_skew_within_tolerance_is_fine() -> None:
    assert centre_skew(_date(T0), sent_wall=T0 + 20, received_wall=T0 + 20.2) is None
    assert centre_skew(None, sent_wall=T0, received_wall=T0) is None
    assert centre_skew("not a date", sent_wall=T0, received_wall=T0) is None


def test_centre_skew_accounts_for_the_round_trip() -> None:
    # 70 s off but the request took 30 s: the centre could have stamped it anywhere in it.
    assert centre_skew(_date(T0), sent_wall=T0 + 55, received_wall=T0 + 85) is None
    skew = centre_skew(_date(T0), sent_wall=T0 + 90, received_wall=T0 + 90.5)
    assert skew is not None and skew.skew_s == pytest.approx(90.25)


def test_centre_skew_is_recorded_once_per_period(ledger: LedgerStore) -> None:
    c = Clocks()
    guard = ClockGuard(ledger, skew_report_every_s=3600, wall=c.wall, steady=c.steady)
    behind = T0 - 600  # the kiosk is 10 minutes behind the centre
    for _ in range(5):
        skew = guard.observe_centre(_date(T0), sent_wall=behind, received_wall=behind + 0.1)
        assert skew is not None and skew.skew_s == pytest.approx(-599.95)
        c.tick(60)
    c.tick(3600)
    guard.observe_centre(_date(T0), sent_wall=behind, received_wall=behind + 0.1)
    envs = list(ledger.iter_envelopes())
    assert [e.record.body["event"] for e in envs] == [CLOCK_SKEW_EVENT] * 2
    assert envs[0].record.body["centre_date"] == _date(T0)
    assert ledger.verify() == 2
