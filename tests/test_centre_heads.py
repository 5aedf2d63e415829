"""The centre as the second witness of a kiosk's ledger head: a kiosk whose ledger *and*
local witness were restored from one older copy (the case the kiosk cannot see) reports
a lower head, and the centre raises incidents the auditor and the override report show."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_centre_support import Centre, UvicornThread, checkin_body, make_settings

from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.sync.client import SyncClient


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[tuple[Centre, str]]:
    c = Centre(make_settings(tmp_path, f"sqlite:///{tmp_path / 'centre.sqlite'}"))
    server = UvicornThread(c.app).start()
    try:
        yield c, server.url
    finally:
        server.stop()
        c.close()


def _open(root: Path, url: str) -> tuple[LedgerStore, SyncClient]:
    keys = DeviceKeys.load_or_create(root)
    store = LedgerStore(root / "ledger.sqlite", keys)
    return store, SyncClient(store, keys, url)


def _incidents(c: Centre) -> list[tuple[str, int | None]]:
    doc = c.client.get("/api/v1/incidents", headers=c.staff()).json()
    return sorted((i["kind"], i["seq"]) for i in doc["incidents"])


def test_a_kiosk_whose_head_goes_backwards_raises_incidents(
    centre: tuple[Centre, str], tmp_path: Path
) -> None:
    c, url = centre
    root, older = tmp_path / "kiosk", tmp_path / "older-copy"
    store, client = _open(root, url)
    client.enroll(c.enrolment_token("R-101"))
    for i in range(2):
        store.append("checkin", checkin_body(i, decision="rejected"))
    store.close()
    client.close()
    shutil.copytree(root, older)  # the whole data folder, witness file included

    store, client = _open(root, url)
    override = store.append("override", {"session_id": "S-1", "room": "R-101", "proctor_id": "p"})
    assert override.record.seq == 3
    assert client.push_all().accepted == 3
    assert client.report_head() == {
        "device_id": client.keys.device_id,
        "highest_seq": 3,
        "incidents": [],
    }
    store.close()
    client.close()

    # The insider puts the older folder back: the override is gone and, with the local
    # witness restored too, the kiosk itself sees nothing wrong.
    shutil.rmtree(root)
    shutil.copytree(older, root)
    store, client = _open(root, url)
    assert store.head_problem is None and store.head().seq == 2
    verdict = client.report_head()
    assert verdict["highest_seq"] == 3 and verdict["incidents"] == ["head_rollback"]

    # New history over the witnessed seq: another record 3.
    store.append("checkin", checkin_body(9))
    assert client.report_head()["incidents"] == ["head_mismatch"]
    assert client.push_all().rejected == 1  # a fork of the stored seq 3
    assert _incidents(c) == [("fork", 3), ("head_mismatch", 3), ("head_rollback", 2)]

    report = c.client.get("/api/v1/reports/overrides", headers=c.staff()).json()
    kinds = {(g["device_id"], g["kind"]) for g in report["ledger_incidents"]}
    device = client.keys.device_id
    assert kinds == {(device, "fork"), (device, "head_mismatch"), (device, "head_rollback")}
    rollback = next(g for g in report["ledger_incidents"] if g["kind"] == "head_rollback")
    assert rollback["room"] == "R-101"
    assert "below seq 3 it reported before" in rollback["detail"]
    store.close()
    client.close()


def test_a_record_reusing_a_reported_seq_is_an_incident(
    centre: tuple[Centre, str], tmp_path: Path
) -> None:
    """The centre knows seq 2 only from a head report (the record never arrived): a
    different record 2 arriving later is `seq_reused`."""
    c, url = centre
    root, older = tmp_path / "kiosk", tmp_path / "older-copy"
    store, client = _open(root, url)
    client.enroll(c.enrolment_token("R-101"))
    store.append("checkin", checkin_body(0))
    assert client.push_all().accepted == 1
    store.close()
    client.close()
    shutil.copytree(root, older)
    store, client = _open(root, url)
    store.append("override", {"session_id": "S-1", "room": "R-101", "proctor_id": "p"})
    assert client.report_head()["highest_seq"] == 2  # reported, then deleted before push
    store.close()
    client.close()
    shutil.rmtree(root)
    shutil.copytree(older, root)
    store, client = _open(root, url)
    store.append("checkin", checkin_body(1))
    assert client.push_all().accepted == 1  # authentic and chained: stored...
    assert ("seq_reused", 2) in _incidents(c)  # ...and flagged
    store.close()
    client.close()


def test_a_head_signed_by_another_key_is_refused(
    centre: tuple[Centre, str], tmp_path: Path
) -> None:
    c, url = centre
    store, client = _open(tmp_path / "kiosk", url)
    client.enroll(c.enrolment_token())
    other = DeviceKeys.load_or_create(tmp_path / "other")
    forged = store.signed_head()
    from kiosk.ledger.witness import SignedHead

    doc = SignedHead.sign(forged.head, other.private_key).to_dict()
    import json

    resp = client._centre.request(
        "POST", f"/devices/{client.keys.device_id}/head", json.dumps(doc).encode()
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "head_invalid"
    store.close()
    client.close()


def test_an_override_wakes_the_sync_loop_at_once(
    centre: tuple[Centre, str], tmp_path: Path
) -> None:
    _c, url = centre
    store, client = _open(tmp_path / "kiosk", url)
    store.append("checkin", checkin_body(0))
    assert not client._wake.is_set()  # a check-in waits for the interval
    store.append("override", {"session_id": "S-1", "room": "R-101", "proctor_id": "p"})
    assert client._wake.is_set()  # an override is pushed now
    store.close()
    client.close()
