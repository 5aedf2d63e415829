"""Centre API: staff roles on every endpoint, enrolment, rosters, override reports, CLI."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_centre_support as support
from test_centre_support import Centre, checkin_body, device_keys, make_chain, signed

from centre.core.security import Role
from centre.crud import devices as centre_devices
from kiosk.checkin.roster import (
    BookedApplicant,
    ExamSession,
    Roster,
    Template,
    make_iin,
    parse_signed_roster,
    roster_to_document,
)
from kiosk.cli import main as kiosk_main
from kiosk.demo.roster import DEMO_DIR, booking_photo
from kiosk.errors import RosterSignatureInvalid
from kiosk.protocol.keys import load_public_key_b64
from kiosk.vision.imageio import read_image

db_url = support.db_url
centre = support.centre


def roster_doc(room: str = "R-101", n: int = 3) -> dict[str, Any]:
    """An unsigned roster document as an admin would upload it."""
    now = datetime.now(UTC).replace(microsecond=0)
    rng = np.random.default_rng(0)
    applicants = []
    for i in range(n):
        vec = rng.normal(size=128).astype(np.float32)
        vec /= np.linalg.norm(vec)
        iin = next(
            make_iin(datetime(1990, 1, 1 + i).date(), 3, s)
            for s in range(i * 10, 9999)
            if _iin_ok(datetime(1990, 1, 1 + i).date(), s)
        )
        applicants.append(
            BookedApplicant(
                f"A-{i}",
                iin,
                f"Applicant {i}",
                str(i + 1),
                f"BK{i:04d}",
                [Template("default", vec)],
            )
        )
    roster = Roster(
        "RS-1",
        1,
        now,
        now + timedelta(days=1),
        ExamSession("S-1", "C-1", room, "theory", now, now + timedelta(hours=2)),
        applicants,
    )
    return roster_to_document(roster)


def _iin_ok(birth: Any, serial: int) -> bool:
    try:
        make_iin(birth, 3, serial)
        return True
    except ValueError:
        return False


def test_every_staff_endpoint_checks_the_role(centre: Centre) -> None:
    viewer = centre.add_user("vera", Role.viewer)
    auditor = centre.add_user("aziz", Role.auditor)
    endpoints = [  # (method, path, lowest role that may call it)
        ("GET", "/api/v1/reports/overrides", Role.viewer),
        ("GET", "/api/v1/reports/overrides.csv", Role.viewer),
        ("GET", "/api/v1/me", Role.viewer),
        ("GET", "/api/v1/records", Role.auditor),
        ("GET", "/api/v1/incidents", Role.auditor),
        ("GET", "/api/v1/devices", Role.admin),
        ("GET", "/api/v1/users", Role.admin),
        ("POST", "/api/v1/enrolment-tokens", Role.admin),
        ("POST", "/api/v1/users", Role.admin),
        ("POST", "/api/v1/rosters/R-101", Role.admin),
        ("POST", "/api/v1/devices/x/revoke", Role.admin),
    ]
    tokens = {Role.viewer: viewer, Role.auditor: auditor, Role.admin: centre.admin_token}
    for method, path, lowest in endpoints:
        r = centre.client.request(method, path)
        assert r.status_code == 401, (method, path)
        r = centre.client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401, (method, path)
        for role, token in tokens.items():
            r = centre.client.request(method, path, headers=centre.staff(token), json={})
            if role < lowest:
                assert r.status_code == 403, (method, path, role)
            else:
                assert r.status_code not in (401, 403), (method, path, role, r.text)


def test_staff_users_are_created_once_and_keys_stored_hashed(centre: Centre) -> None:
    r = centre.client.post(
        "/api/v1/users", json={"name": "olga", "role": "auditor"}, headers=centre.staff()
    )
    assert r.status_code == 201
    key = r.json()["api_key"]
    assert centre.client.get("/api/v1/me", headers=centre.staff(key)).json()["role"] == "auditor"
    r = centre.client.post(
        "/api/v1/users", json={"name": "olga", "role": "viewer"}, headers=centre.staff()
    )
    assert r.status_code == 409
    from sqlalchemy import select

    from centre.models import StaffUser

    with centre.ctx.session() as db:
        hashes = list(db.scalars(select(StaffUser.token_hash)))
    assert key not in hashes and all(len(h) == 64 for h in hashes)


def test_enrolment_tokens_are_single_use_and_keys_cannot_be_swapped(
    centre: Centre, tmp_path: Path
) -> None:
    keys = device_keys(tmp_path, "a")
    token = centre.enrolment_token("R-101")
    body = json.dumps(
        {"token": token, "device_id": keys.device_id, "public_key": keys.public_key_b64()}
    ).encode()
    r = signed(centre.client, keys, "POST", "/api/v1/devices/enroll", body)
    assert r.status_code == 201 and r.json()["room"] == "R-101"
    assert load_public_key_b64(r.json()["centre_public_key"]) == centre.ctx.key.public_key
    r = signed(centre.client, keys, "POST", "/api/v1/devices/enroll", body)
    assert (r.status_code, r.json()["error"]) == (403, "enrolment_token_used")
    # Another key claiming the same device id.
    other = device_keys(tmp_path, "b")
    body = json.dumps(
        {
            "token": centre.enrolment_token(),
            "device_id": keys.device_id,
            "public_key": other.public_key_b64(),
        }
    ).encode()
    headers = {"X-Kiosk-Device": keys.device_id}
    from kiosk.protocol.requests import sign_request

    headers = sign_request(
        other.private_key, keys.device_id, "POST", "/api/v1/devices/enroll", body
    )
    r = centre.client.post("/api/v1/devices/enroll", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (409, "device_key_conflict")
    # Enrolment must be signed by the key being enrolled (proof of possession).
    body = json.dumps(
        {
            "token": centre.enrolment_token(),
            "device_id": other.device_id,
            "public_key": other.public_key_b64(),
        }
    ).encode()
    headers = sign_request(
        keys.private_key, other.device_id, "POST", "/api/v1/devices/enroll", body
    )
    r = centre.client.post("/api/v1/devices/enroll", content=body, headers=headers)
    assert r.status_code == 401


def test_expired_enrolment_token_is_refused(
    centre: Centre, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = centre.client.post("/api/v1/enrolment-tokens", json={"ttl_s": 60}, headers=centre.staff())
    # The token is used an hour later by the centre's clock; nobody waits for it.
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(centre_devices, "utcnow", lambda: later)
    keys = device_keys(tmp_path)
    body = json.dumps(
        {
            "token": r.json()["token"],
            "device_id": keys.device_id,
            "public_key": keys.public_key_b64(),
        }
    ).encode()
    r = signed(centre.client, keys, "POST", "/api/v1/devices/enroll", body)
    assert (r.status_code, r.json()["error"]) == (403, "enrolment_token_expired")


def _override(refused: Any, proctor: str) -> dict[str, Any]:
    b = refused.record.body
    return {
        "proctor_id": proctor,
        "reason": "twin_sibling",
        "note": "looked fine",
        "overrides": refused.record.id,
        "applicant_id": b["applicant_id"],
        "session_id": b["session_id"],
    }


def test_override_report_flags_a_high_override_rate(centre: Centre, tmp_path: Path) -> None:
    keys = device_keys(tmp_path)
    centre.enroll(keys)
    envs = []
    prev = None
    seq = 1

    def add(rtype: str, body: dict[str, Any]) -> Any:
        nonlocal prev, seq
        env = make_chain(keys, 1, start_seq=seq, prev=prev, record_type=rtype, body=body)[0]
        prev, seq = env.digest(), seq + 1
        envs.append(env)
        return env

    # Room R-1, session S-1, proctor P-honest: 20 check-ins, 1 rejection, 0 overrides.
    for i in range(20):
        add(
            "checkin",
            checkin_body(
                i,
                session="S-1",
                room="R-1",
                proctor="P-honest",
                decision="rejected" if i == 0 else "accepted",
            ),
        )
    # Room R-2, session S-2, proctor P-bribed: 10 check-ins, 4 refused, all 4 overridden.
    for i in range(10):
        refused = i < 4
        env = add(
            "checkin",
            checkin_body(
                100 + i, session="S-2", room="R-2", decision="rejected" if refused else "accepted"
            ),
        )
        if refused:
            add("override", _override(env, "P-bribed"))
    assert centre.push(keys, envs).json()["accepted"] == len(envs)

    viewer = centre.add_user("vera", Role.viewer)
    r = centre.client.get("/api/v1/reports/overrides", headers=centre.staff(viewer))
    assert r.status_code == 200
    rep = r.json()
    sessions = {g["key"]: g for g in rep["sessions"]}
    assert sessions["S-1"]["checkins"] == 20 and sessions["S-1"]["rejections"] == 1
    assert sessions["S-1"]["overrides"] == 0 and not sessions["S-1"]["flagged"]
    assert sessions["S-2"]["overrides"] == 4 and sessions["S-2"]["override_rate"] == 0.4
    assert sessions["S-2"]["flagged"]
    rooms = {g["key"]: g for g in rep["rooms"]}
    assert rooms["R-2"]["flagged"] and not rooms["R-1"]["flagged"]
    proctors = {g["key"]: g for g in rep["proctors"]}
    assert proctors["P-bribed"]["overrides"] == 4 and proctors["P-bribed"]["flagged"]
    assert not proctors["P-honest"]["flagged"]
    assert rep["totals"]["checkins"] == 30 and rep["totals"]["overrides"] == 4
    assert "A-00000" not in r.text  # aggregate only: no applicant ids for viewers

    r = centre.client.get("/api/v1/reports/overrides.csv", headers=centre.staff(viewer))
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    flagged = {(row["scope"], row["key"]) for row in rows if row["flagged"] == "True"}
    assert {("session", "S-2"), ("room", "R-2"), ("proctor", "P-bribed")} <= flagged
    r = centre.client.get("/api/v1/reports/overrides?room=R-1", headers=centre.staff(viewer))
    assert [g["key"] for g in r.json()["rooms"]] == ["R-1"]


def test_rosters_are_signed_versioned_and_served_to_the_right_room(
    centre: Centre, tmp_path: Path
) -> None:
    doc = roster_doc("R-101")
    r = centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff())
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert (
        centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff()).json()[
            "version"
        ]
        == 2
    )
    r = centre.client.post("/api/v1/rosters/R-999", json=doc, headers=centre.staff())
    assert r.status_code == 422  # the document is for another room
    bad = {**doc, "applicants": [{"applicant_id": "X"}]}
    assert (
        centre.client.post("/api/v1/rosters/R-101", json=bad, headers=centre.staff()).status_code
        == 422
    )

    keys = device_keys(tmp_path, "door")
    centre.enroll(keys, room="R-101")
    r = signed(centre.client, keys, "GET", "/api/v1/rosters/R-101/latest")
    assert r.status_code == 200
    roster = parse_signed_roster(r.json(), centre.ctx.key.public_key, now=datetime.now(UTC))
    assert roster.version == 2 and len(roster.applicants) == 3
    other_key = device_keys(tmp_path, "x")
    with pytest.raises(RosterSignatureInvalid):
        parse_signed_roster(r.json(), other_key.public_key, now=datetime.now(UTC))
    assert signed(centre.client, keys, "GET", "/api/v1/rosters/R-7/latest").status_code == 403
    elsewhere = device_keys(tmp_path, "any")
    centre.enroll(elsewhere)  # no room: may pull any room
    assert signed(centre.client, elsewhere, "GET", "/api/v1/rosters/R-7/latest").status_code == 404
    viewer = centre.add_user("vera", Role.viewer)
    assert (
        centre.client.get("/api/v1/rosters/R-101/latest", headers=centre.staff(viewer)).status_code
        == 403
    )
    assert (
        centre.client.get("/api/v1/rosters/R-101/latest", headers=centre.staff()).status_code == 200
    )
    assert centre.client.get("/api/v1/rosters/R-101/latest").status_code == 401


def test_the_booking_photo_passes_through_the_centre_signed(centre: Centre, tmp_path: Path) -> None:
    photo = booking_photo(read_image(DEMO_DIR / "enrol" / "A1003.jpg"))
    doc = roster_doc("R-101")
    doc["applicants"][1]["photo"] = base64.b64encode(photo).decode("ascii")
    r = centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff())
    assert r.status_code == 201, r.text
    keys = device_keys(tmp_path, "door")
    centre.enroll(keys, room="R-101")
    served = signed(centre.client, keys, "GET", "/api/v1/rosters/R-101/latest").json()
    roster = parse_signed_roster(served, centre.ctx.key.public_key, now=datetime.now(UTC))
    assert [a.photo for a in roster.applicants] == [None, photo, None]
    doc["applicants"][0]["photo"] = base64.b64encode(b"GIF89a" + bytes(32)).decode("ascii")
    r = centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff())
    assert r.status_code == 422 and "applicant A-0: photo is not a JPEG image" in r.text


def test_open_endpoints_and_unknown_paths(centre: Centre) -> None:
    assert centre.client.get("/api/v1/health").json() == {"status": "ok"}
    key = centre.client.get("/api/v1/centre-key").json()
    assert key["key_id"] == centre.ctx.key.key_id
    r = centre.client.get("/api/v1/nothing")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = centre.client.post(
        "/api/v1/users", json={"name": "x", "role": "god"}, headers=centre.staff()
    )
    assert (r.status_code, r.json()["error"]) == (422, "invalid_request")


def test_migrations_are_idempotent_and_the_app_restarts_on_the_same_db(
    tmp_path: Path, db_url: str
) -> None:
    from centre.db import migrate

    settings = support.make_settings(tmp_path, db_url)
    first = Centre(settings)
    keys = device_keys(tmp_path)
    first.enroll(keys)
    first.push(keys, make_chain(keys, 3))
    key_id = first.ctx.key.key_id
    first.close()
    migrate(settings)
    second = Centre(settings.with_(migrate_on_start=True), admin_name="admin2")
    try:
        assert second.count_records() == 3 and second.ctx.key.key_id == key_id
    finally:
        second.close()


def test_centre_cli_admin_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert kiosk_main(["centre", "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert kiosk_main(["centre", "add-user", "root", "--role", "admin"]) == 0
    api_key = capsys.readouterr().out.splitlines()[0]
    assert api_key.startswith("kcs_")
    assert kiosk_main(["centre", "enroll-token", "--room", "R-1"]) == 0
    assert capsys.readouterr().out.startswith("kce_")
    assert kiosk_main(["centre", "add-user", "root", "--role", "viewer"]) == 2
    assert kiosk_main(["centre", "key"]) == 0
    out = capsys.readouterr().out
    assert base64.b64decode(out.splitlines()[0]) and "key id" in out
