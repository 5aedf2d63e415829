"""The sync client reads the centre's Date header: a kiosk clock far off the centre's is
a signed device_event in the ledger (record timestamps are evidence)."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx

from kiosk.ledger.clock import CLOCK_SKEW_EVENT
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.sync.client import SyncClient


def _centre_with_clock(offset_s: float) -> httpx.MockTransport:
    """A centre that answers the status call, its clock `offset_s` away from ours."""

    def handler(request: httpx.Request) -> httpx.Response:
        date = email.utils.formatdate(time.time() + offset_s, usegmt=True)
        return httpx.Response(200, json={"device_id": "x", "seq": 0}, headers={"Date": date})

    return httpx.MockTransport(handler)


def _events(store: LedgerStore) -> list[dict]:
    return [e.record.body for e in store.iter_envelopes() if e.record.type == "device_event"]


def test_skewed_centre_clock_is_recorded_once(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    with LedgerStore(tmp_path / "ledger.sqlite", keys) as store:
        client = SyncClient(store, keys, "http://centre.test", transport=_centre_with_clock(600))
        client.centre_status()
        client.centre_status()  # still skewed: not recorded again within the hour
        events = _events(store)
        assert [e["event"] for e in events] == [CLOCK_SKEW_EVENT]
        assert 590 < abs(events[0]["skew_s"]) < 610
        assert store.verify() == 1
        client.close()


def test_centre_clock_in_tolerance_records_nothing(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    with LedgerStore(tmp_path / "ledger.sqlite", keys) as store:
        client = SyncClient(store, keys, "http://centre.test", transport=_centre_with_clock(1))
        client.centre_status()
        assert _events(store) == []
        client.close()
