"""API fuzzing of the centre: every operation in its OpenAPI schema (schemathesis), plus
the raw-body endpoints the schema cannot describe (device enrolment and record ingest),
driven with hypothesis. Fixed, small budgets so CI stays fast.

Properties: no request makes the centre answer 5xx (a 500 is a bug by the app's own
contract); nothing is accepted without the right credentials; and whatever batches a
device pushes, what the centre stores is exactly a gap-free, correctly signed chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzz_budget import fuzz, json_paths
from hypothesis import given
from hypothesis import strategies as st
from test_centre_support import Centre, make_chain, make_settings

from centre.core.security import Role
from kiosk.ledger.keys import DeviceKeys
from kiosk.protocol.chain import verify_chain
from kiosk.protocol.envelope import Envelope

API_BUDGET = fuzz(12)
INGEST_BUDGET = fuzz(60)
PUBLIC = {"/api/v1/health", "/api/v1/centre-key"}
HUGE_DEVICE_HEADERS = {
    "X-Kiosk-Device": "kiosk-unknown",
    "X-Kiosk-Timestamp": "9" * 400,
    "X-Kiosk-Signature": "AAAA",
}


@pytest.fixture(scope="module")
def fuzz_centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    root = tmp_path_factory.mktemp("fuzz-centre")
    centre = Centre(make_settings(root, f"sqlite:///{root / 'centre.sqlite'}"))
    centre.viewer_token = centre.add_user("viewer", Role.viewer)  # type: ignore[attr-defined]
    try:
        yield centre
    finally:
        centre.close()


@pytest.fixture(scope="module")
def centre_schema(fuzz_centre: Centre) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_centre.app)


schema = schemathesis.pytest.from_fixture("centre_schema")


@schema.parametrize()
@API_BUDGET
def test_no_operation_answers_5xx_or_accepts_bad_credentials(
    case: Any, fuzz_centre: Centre
) -> None:
    path = case.path
    response = case.call()
    assert response.status_code < 500, f"{case.method} {path}: {response.status_code}"
    generated_auth = str((case.headers or {}).get("authorization", ""))
    if path not in PUBLIC and 200 <= response.status_code < 300:
        # A random header is never a valid key; device-signed routes need a signature.
        assert generated_auth.startswith("Bearer ") and len(generated_auth) > 7, (
            f"{case.method} {path} accepted {generated_auth!r}"
        )
    # The same request from the admin: still no 5xx.
    headers = {**(case.headers or {}), "authorization": f"Bearer {fuzz_centre.admin_token}"}
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {path} (admin): {response.status_code}"
    # And as a "device" whose timestamp is a 400-digit number (was a 500: OverflowError).
    response = case.call(headers={**(case.headers or {}), **HUGE_DEVICE_HEADERS})
    assert response.status_code < 500, f"{case.method} {path} (huge ts): {response.status_code}"


# --- raw-body endpoints ------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


@pytest.fixture(scope="module")
def device(fuzz_centre: Centre, tmp_path_factory: pytest.TempPathFactory) -> DeviceKeys:
    import os

    os.environ.setdefault("KIOSK_KEY_PASSPHRASE", "test-only key passphrase")
    keys = DeviceKeys.load_or_create(tmp_path_factory.mktemp("fuzz-kiosk"))
    fuzz_centre.enroll(keys)
    return keys


@INGEST_BUDGET
@given(body=json_values | st.binary(max_size=64))
def test_enrol_with_arbitrary_bodies_never_5xx(fuzz_centre: Centre, body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = fuzz_centre.client.post("/api/v1/devices/enroll", content=raw)
    assert r.status_code < 500, r.text
    assert r.status_code != 201, f"enrolled without a token: {raw!r}"


def _mutate(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = _mutate(doc[head], tuple(rest), value)
    return copy


GENUINE_LENGTH = 400


@pytest.fixture(scope="module")
def genuine(device: DeviceKeys) -> list[Envelope]:
    """The one chain this device ever signs. A real kiosk never signs two records for a
    seq, so every batch is cut from this chain (then maybe mutated, shuffled or replaced)."""
    return make_chain(device, GENUINE_LENGTH)


@INGEST_BUDGET
@given(data=st.data())
def test_ingest_stores_only_genuine_records(
    fuzz_centre: Centre, device: DeviceKeys, genuine: list[Envelope], data: st.DataObject
) -> None:
    """Push a window of the genuine chain (at the head, ahead of it, or replayed),
    valid, mutated, reordered, or garbage, correctly request-signed by the enrolled
    device: never 5xx; every stored record is byte-identical to the genuine record at its
    seq; and the records marked chained form a verified chain from seq 1."""
    offset, length = data.draw(st.integers(-3, 4)), data.draw(st.integers(1, 3))
    head = _head(fuzz_centre, device.device_id)  # draws never depend on it (replayability)
    start = min(max(0, head + offset), GENUINE_LENGTH - 3)
    window = genuine[start : start + length]
    docs: list[Any] = [e.to_dict() for e in window]
    kind = data.draw(st.sampled_from(["valid", "mutate", "shuffle", "garbage", "raw"]))
    if kind == "mutate":
        i = data.draw(st.integers(0, len(docs) - 1))
        path = data.draw(st.sampled_from(json_paths(docs[i])[1:]))
        docs[i] = _mutate(docs[i], path, data.draw(json_values))
    elif kind == "shuffle":
        docs = data.draw(st.permutations(docs))
    elif kind == "garbage":
        docs = data.draw(st.lists(json_values, max_size=3))
    body = (
        repr(data.draw(json_values)).encode()
        if kind == "raw"
        else json.dumps({"records": docs}).encode()
    )
    r = fuzz_centre.push(device, [], raw=body)
    assert r.status_code < 500, r.text
    if kind == "valid" and start == head:
        got = r.json()
        assert r.status_code == 200 and got["rejected"] == 0, r.text  # (some may be stored
        assert got["accepted"] + got["duplicate"] == len(window), r.text  # ahead already)

    rows = _stored(fuzz_centre, device.device_id)
    by_seq = {e.record.seq: e for e in genuine}
    for row in rows:
        env = Envelope.from_dict(row["envelope"])
        assert env.canonical() == by_seq[env.record.seq].canonical(), (
            f"stored seq {env.record.seq} is not the record the device signed"
        )
    chained = [Envelope.from_dict(row["envelope"]) for row in rows if row["chained"]]
    assert verify_chain(chained, device.public_key, device=device.device_id) == len(chained)
    assert [e.record.seq for e in chained] == list(range(1, len(chained) + 1))


def _head(centre: Centre, device_id: str) -> int:
    return int(centre.device(device_id)["head_seq"])


def _stored(centre: Centre, device_id: str) -> list[dict[str, Any]]:
    r = centre.client.get(
        "/api/v1/records",
        params={"device_id": device_id, "include_envelope": "true", "limit": 5000},
        headers=centre.staff(),
    )
    assert r.status_code == 200, r.text
    return list(r.json()["records"])


def test_a_device_key_change_is_refused_by_the_centre(
    fuzz_centre: Centre, device: DeviceKeys, tmp_path: Path
) -> None:
    """A clone (another key claiming this device id) can neither re-enrol nor push."""
    other = DeviceKeys.load_or_create(tmp_path / "clone")
    body = json.dumps(
        {
            "token": fuzz_centre.enrolment_token(),
            "device_id": device.device_id,
            "public_key": other.public_key_b64(),
        }
    ).encode()
    from kiosk.protocol.requests import sign_request

    headers = sign_request(
        other.private_key, device.device_id, "POST", "/api/v1/devices/enroll", body
    )
    r = fuzz_centre.client.post("/api/v1/devices/enroll", content=body, headers=headers)
    assert r.status_code in (401, 403, 409), r.text
    assert "key" in r.text
    clone = DeviceKeys(other.directory, device.device_id, other.private_key, other.history)
    r = fuzz_centre.push(clone, make_chain(clone, 1, start_seq=10_000))
    assert r.status_code in (401, 403), r.text
