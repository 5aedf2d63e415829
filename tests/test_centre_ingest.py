"""Centre batch ingest: idempotency, chain continuity, incidents, and every kind of bad input.

Each test runs on SQLite and (when KIOSK_TEST_POSTGRES_URL is set) on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import test_centre_support as support
from test_centre_support import (
    Centre,
    checkin_body,
    device_keys,
    future_ts,
    make_chain,
    make_settings,
    signed,
)

from kiosk.ledger.store import LedgerStore
from kiosk.protocol.canonical import canonical_json
from kiosk.protocol.envelope import new_record, sign_record

# Fixtures shared through the support module (a conftest.py is not ours to edit).
db_url = support.db_url
centre = support.centre


def _statuses(resp) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(r["status"], r.get("reason")) for r in resp.json()["results"]]


def test_framed_envelope_bytes_match_the_canonical_form(tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    for env in make_chain(keys, 3):
        assert env.canonical() == canonical_json(env.to_dict())


def test_batch_is_stored_once_and_acknowledged_again(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    envs = make_chain(keys, 50)
    r = centre.push(keys, envs)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 50 and r.json()["head_seq"] == 50
    again = centre.push(keys, envs[10:30])
    assert again.json()["duplicate"] == 20 and again.json()["accepted"] == 0
    assert centre.count_records(keys.device_id) == 50
    # The same record twice inside one batch is also stored once.
    more = make_chain(keys, 2, start_seq=51, prev=envs[-1].digest())
    r = centre.push(keys, [more[0], more[0], more[1]])
    assert _statuses(r) == [("accepted", None), ("duplicate", None), ("accepted", None)]
    assert centre.count_records() == 52
    assert centre.device(keys.device_id)["head_seq"] == 52


def test_tampered_record_is_rejected_and_the_good_ones_kept(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    envs = make_chain(keys, 5)
    items = json.loads(json.dumps([e.to_dict() for e in envs]))
    items[2]["record"]["body"]["decision"] = "accepted-by-bribe"  # edited after signing
    r = centre.push(keys, items)
    assert r.status_code == 200
    assert _statuses(r) == [
        ("accepted", None),
        ("accepted", None),
        ("rejected", "bad_signature"),
        ("accepted", None),
        ("accepted", None),
    ]
    dev = centre.device(keys.device_id)
    assert dev["head_seq"] == 2 and dev["max_seq"] == 5  # 4 and 5 wait beyond the gap
    kinds = {i["kind"] for i in centre.incidents()}
    assert {"bad_signature", "gap"} <= kinds
    # The genuine record arrives later: the chain closes and the gap incident is resolved.
    r = centre.push(keys, [envs[2]])
    assert _statuses(r) == [("accepted", None)]
    assert centre.device(keys.device_id)["head_seq"] == 5
    gaps = [i for i in centre.incidents() if i["kind"] == "gap"]
    assert gaps and all(i["resolved_at"] for i in gaps)
    assert centre.count_records() == 5


def test_fork_and_broken_prev_are_refused_as_incidents(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    envs = make_chain(keys, 3)
    centre.push(keys, envs)
    # A second, validly signed history for seq 2 (a cloned or rebuilt ledger).
    fork = sign_record(
        new_record(
            "checkin", checkin_body(99), device=keys.device_id, seq=2, prev=envs[0].digest()
        ),
        keys.private_key,
    )
    bad_prev = sign_record(
        new_record("checkin", checkin_body(98), device=keys.device_id, seq=4, prev="0" * 64),
        keys.private_key,
    )
    r = centre.push(keys, [fork, bad_prev])
    assert _statuses(r) == [("rejected", "fork"), ("rejected", "prev_mismatch")]
    assert {"fork", "prev_mismatch"} <= {i["kind"] for i in centre.incidents()}
    assert centre.count_records() == 3


def test_record_replayed_from_another_device_is_refused(centre: Centre, tmp_path: Path) -> None:
    a, b = device_keys(tmp_path, "a"), device_keys(tmp_path, "b")
    centre.enroll(a)
    centre.enroll(b)
    envs_a = make_chain(a, 2)
    centre.push(a, envs_a)
    # B relays A's records on its own channel.
    r = centre.push(b, envs_a)
    assert _statuses(r) == [("rejected", "device_mismatch")] * 2
    # B signs a request aimed at A's endpoint.
    r = centre.push(b, envs_a, device_id=a.device_id)
    assert r.status_code == 403 and r.json()["error"] == "device_mismatch"
    # A record claiming to be A's but signed with B's key.
    forged = sign_record(
        new_record("checkin", checkin_body(1), device=a.device_id, seq=3, prev=envs_a[-1].digest()),
        b.private_key,
    )
    r = centre.push(a, [forged])
    assert _statuses(r) == [("rejected", "bad_signature")]
    assert centre.count_records(b.device_id) == 0 and centre.count_records(a.device_id) == 2


def test_records_from_the_future_are_refused(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    good = make_chain(keys, 1)
    ahead = make_chain(keys, 1, start_seq=2, prev=good[0].digest(), ts=future_ts(60))
    r = centre.push(keys, [*good, *ahead])
    assert _statuses(r) == [("accepted", None), ("rejected", "from_future")]
    slightly = make_chain(keys, 1, start_seq=2, prev=good[0].digest(), ts=future_ts(2))
    assert _statuses(centre.push(keys, slightly)) == [("accepted", None)]  # within skew


def test_malformed_input_is_a_clear_4xx(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    cases = [
        (b"{not json", 400, "malformed_json"),
        (b'{"records": [NaN]}', 400, "malformed_json"),
        (b"[1, 2]", 422, "bad_batch"),
        (b'{"records": {"a": 1}}', 422, "bad_batch"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),
    ]
    for raw, status, code in cases:
        r = centre.push(keys, [], raw=raw)
        assert (r.status_code, r.json()["error"]) == (status, code), raw[:20]
    good = make_chain(keys, 1)[0]
    missing_sig = {"record": good.to_dict()["record"]}
    extra = {**good.to_dict(), "note": "x"}
    r = centre.push(keys, ["text", 7, {}, missing_sig, extra, good])
    assert [s for s, _ in _statuses(r)] == ["rejected"] * 5 + ["accepted"]
    assert {reason for _, reason in _statuses(r)[:5]} == {"malformed"}


def test_oversized_batches_are_413(tmp_path: Path, db_url: str) -> None:
    c = Centre(make_settings(tmp_path, db_url, max_batch=10, max_body_bytes=64 * 1024))
    try:
        keys = device_keys(tmp_path)
        c.enroll(keys)
        r = c.push(keys, make_chain(keys, 11))
        assert r.status_code == 413 and r.json()["error"] == "batch_too_large"
        r = c.push(keys, [], raw=b'{"records": [' + b" " * 70_000 + b"]}")
        assert r.status_code == 413 and r.json()["error"] == "body_too_large"
        assert c.push(keys, make_chain(keys, 10)).json()["accepted"] == 10
    finally:
        c.close()


def test_unknown_revoked_unsigned_and_stale_requests(centre: Centre, tmp_path: Path) -> None:
    keys, stranger = device_keys(tmp_path, "k"), device_keys(tmp_path, "s")
    centre.enroll(keys)
    body = json.dumps({"records": [e.to_dict() for e in make_chain(keys, 1)]}).encode()
    path = f"/api/v1/devices/{keys.device_id}/records"
    r = centre.client.post(path, content=body)
    assert (r.status_code, r.json()["error"]) == (401, "unsigned_request")
    r = signed(centre.client, keys, "POST", path, body, now=time.time() - 3600)
    assert (r.status_code, r.json()["error"]) == (401, "stale_request")
    r = centre.push(stranger, make_chain(stranger, 1))
    assert (r.status_code, r.json()["error"]) == (401, "device_unknown")
    # Body swapped after signing.
    from kiosk.protocol.requests import sign_request

    headers = sign_request(keys.private_key, keys.device_id, "POST", path, body)
    r = centre.client.post(path, content=body.replace(b"A-00000", b"A-99999"), headers=headers)
    assert (r.status_code, r.json()["error"]) == (401, "bad_signature")
    r = centre.client.post(f"/api/v1/devices/{keys.device_id}/revoke", headers=centre.staff())
    assert r.status_code == 200
    r = centre.push(keys, make_chain(keys, 1))
    assert (r.status_code, r.json()["error"]) == (403, "device_revoked")
    assert centre.count_records() == 0


def test_key_rotation_is_followed(centre: Centre, tmp_path: Path) -> None:
    from kiosk.ledger.keys import DeviceKeys

    data = tmp_path / "kiosk"
    keys = DeviceKeys.load_or_create(data)
    centre.enroll(keys)
    with LedgerStore(data / "ledger.sqlite", keys) as store:
        store.append("session_open", {"session_id": "S-1", "room": "R-101"})
        store.rotate_key()
        store.append("checkin", checkin_body(1))
        envs = list(store.iter_envelopes())
    # The request is signed with the new key the centre learns from the batch itself.
    r = centre.push(keys, envs)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3 and r.json()["head_seq"] == 3
    assert centre.device(keys.device_id)["public_key"] == keys.public_key_b64()
    more = [e.to_dict() for e in make_chain(keys, 1, start_seq=4, prev=envs[-1].digest())]
    assert centre.push(keys, more).json()["accepted"] == 1


def test_override_is_counted_in_the_room_of_the_refused_checkin(
    centre: Centre, tmp_path: Path
) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    refused = make_chain(keys, 1, body=checkin_body(1, decision="rejected", room="R-7"))
    override = make_chain(
        keys,
        1,
        start_seq=2,
        prev=refused[0].digest(),
        record_type="override",
        body={
            "proctor_id": "P-1",
            "reason": "lighting",
            "note": "",
            "overrides": refused[0].record.id,
            "applicant_id": "A-00001",
            "session_id": "S-1",
        },
    )
    assert centre.push(keys, [*refused, *override]).json()["accepted"] == 2
    r = centre.client.get("/api/v1/records?type=override", headers=centre.staff())
    assert r.json()["records"][0]["room"] == "R-7"
