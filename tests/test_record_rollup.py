"""The per-day roll-up gives the same override report and chart as counting the records.

A centre is seeded through the real ingest API (signed chains from two doors over three
days, overrides that take their room from the refused check-in, a check-in with no session
or proctor), then the report, the per-proctor/room rates and the per-day chart are computed
from the roll-up and from the records and compared whole, again after a batch is pushed
twice, after a fork and a gap, and after migration 0004 back-fills the roll-up afresh.
SQLite always; PostgreSQL where KIOSK_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import test_centre_support as support
from console_support import override_body
from sqlalchemy import func, select
from test_centre_support import Centre, checkin_body, device_keys, make_chain, make_settings

from centre.crud import record_rollup
from centre.crud.override_audit import OverrideFilter, rates_per_day
from centre.crud.reports import override_report
from centre.models import RecordRollup, StoredRecord
from centre.models import utcnow as now
from kiosk.protocol.canonical import format_ts

db_url = support.db_url
DAY0 = (now() - timedelta(days=3)).date()


@pytest.fixture
def centre(tmp_path: Path, db_url: str) -> Iterator[Centre]:
    c = Centre(make_settings(tmp_path, db_url))
    try:
        yield c
    finally:
        c.close()


class Door:
    """A door's signed chain, built record by record as its kiosk would."""

    def __init__(self, centre: Centre, root: Path, name: str, room: str) -> None:
        self.centre, self.keys = centre, device_keys(root, name)
        centre.enroll(self.keys, room=room)
        self.prev: str | None = None
        self.seq = 1

    def record(self, rtype: str, body: dict[str, Any], day: int, hour: int) -> Any:
        ts = format_ts(now().replace(hour=hour, minute=0) - timedelta(days=3 - day))
        env = make_chain(
            self.keys, 1, start_seq=self.seq, prev=self.prev, record_type=rtype, body=body, ts=ts
        )[0]
        self.prev, self.seq = env.digest(), self.seq + 1
        return env

    def push(self, envs: list[Any]) -> dict[str, Any]:
        r = self.centre.push(self.keys, envs)
        assert r.status_code == 200, r.text
        return r.json()


def _seed(centre: Centre, root: Path) -> tuple[Door, list[Any]]:
    """Two doors, three days: R-1 honest, R-2 with one proctor overriding most refusals."""
    a, b = Door(centre, root, "door-a", "R-1"), Door(centre, root, "door-b", "R-2")
    envs_a = [
        a.record("checkin", checkin_body(i, session=f"S-a{i % 2}", room="R-1", proctor="P-1"), d, 9)
        for d in range(3)
        for i in range(4)
    ]
    envs_a.append(a.record("checkin", checkin_body(99, room="R-1") | {"session_id": None}, 2, 10))
    assert a.push(envs_a)["accepted"] == 13
    envs_b: list[Any] = []
    for d in range(3):
        for i in range(5):
            decision = ("rejected", "needs_proctor", "accepted")[i % 3]
            env = b.record(
                "checkin",
                checkin_body(10 * d + i, session=f"S-b{d}", room="R-2", decision=decision),
                d,
                11,
            )
            envs_b.append(env)
            if decision != "accepted" and i < 4:
                envs_b.append(b.record("override", override_body(env, "P-2"), d, 12))
    assert b.push(envs_b)["accepted"] == len(envs_b)
    return b, envs_b


def _assert_same(centre: Centre) -> dict[str, Any]:
    """Every report and chart the console shows, both ways; returns the unfiltered report."""
    day = [(DAY0 + timedelta(days=d)).isoformat() for d in range(4)]
    filters: list[dict[str, Any]] = [
        {},
        {"room": "R-2"},
        {"since": day[1]},
        {"since": day[0], "until": day[2], "room": "R-1"},
        {"until": day[1][:7] + "-99"},
    ]
    with centre.ctx.session() as db:
        for f in filters:
            fast = override_report(db, alert=0.2, **f)
            slow = override_report(db, alert=0.2, from_records=True, **f)
            assert fast.to_dict() == slow.to_dict(), f
            flt = OverrideFilter(room=f.get("room"), since=f.get("since"), until=f.get("until"))
            today = DAY0 + timedelta(days=3)
            assert rates_per_day(db, flt, today=today) == rates_per_day(
                db, flt, today=today, from_records=True
            ), f
        counted = db.execute(
            select(func.sum(RecordRollup.checkins), func.sum(RecordRollup.overrides))
        ).one()
        stored = {
            t: db.scalar(select(func.count()).where(StoredRecord.type == t))
            for t in ("checkin", "override")
        }
        assert tuple(counted) == (stored["checkin"], stored["override"])
        return override_report(db, alert=0.2).to_dict()


def test_rollup_report_equals_the_records_report(centre: Centre, tmp_path: Path) -> None:
    _seed(centre, tmp_path)
    report = _assert_same(centre)
    # Exact values, so the comparison is not two empty reports agreeing.
    assert (report["totals"]["checkins"], report["totals"]["overrides"]) == (28, 9)
    rooms = {r["key"]: (r["checkins"], r["overrides"], r["flagged"]) for r in report["rooms"]}
    assert rooms == {"R-1": (13, 0, False), "R-2": (15, 9, True)}
    proctors = {p["key"]: (p["checkins"], p["overrides"]) for p in report["proctors"]}
    assert proctors == {"P-1": (12, 0), "P-2": (15, 9)}
    sessions = {s["key"]: s["checkins"] for s in report["sessions"]}
    assert sessions == {"(none)": 1, "S-a0": 6, "S-a1": 6, "S-b0": 5, "S-b1": 5, "S-b2": 5}


def test_a_batch_pushed_twice_is_counted_once(centre: Centre, tmp_path: Path) -> None:
    b, envs_b = _seed(centre, tmp_path)
    before = _assert_same(centre)
    again = b.push(envs_b)
    assert (again["accepted"], again["duplicate"]) == (0, len(envs_b))
    assert _assert_same(centre) == before


def test_a_fork_and_a_gap_keep_the_two_counts_equal(centre: Centre, tmp_path: Path) -> None:
    b, _ = _seed(centre, tmp_path)
    fork = make_chain(b.keys, 1, start_seq=3, body=checkin_body(500, session="S-x", room="R-2"))
    assert b.push(fork)["accepted"] == 0  # seq 3 is taken: refused, never counted
    b.seq += 2  # two records the door never sent: the next ones wait after a gap
    late = [
        b.record("checkin", checkin_body(600 + i, session="S-late", room="R-2"), 2, 15)
        for i in range(3)
    ]
    assert b.push(late)["accepted"] == 3
    kinds = {i["kind"] for i in centre.incidents()}
    assert {"fork", "gap"} <= kinds
    report = _assert_same(centre)
    assert report["totals"]["checkins"] == 31


def test_rebuild_and_migration_backfill_give_the_ingest_counts(
    centre: Centre, tmp_path: Path
) -> None:
    from alembic import command

    from centre.db import alembic_config

    _seed(centre, tmp_path)

    def snapshot() -> list[tuple[Any, ...]]:
        with centre.ctx.session() as db:
            return [
                tuple(r)
                for r in db.execute(
                    select(RecordRollup.__table__).order_by(
                        *RecordRollup.__table__.primary_key.columns
                    )
                )
            ]

    kept = snapshot()
    assert len(kept) > 6
    with centre.ctx.session() as db:
        record_rollup.rebuild(db)
        db.commit()
    assert snapshot() == kept
    cfg = alembic_config(centre.settings.database_url)
    with centre.ctx.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        command.upgrade(cfg, "0004")
    assert snapshot() == kept


def test_day_aligned_bounds() -> None:
    assert record_rollup.day_aligned(None, "2026-11-29")
    assert record_rollup.day_aligned("2026-11", None)
    assert not record_rollup.day_aligned("2026-11-29T10:00:00Z", None)
