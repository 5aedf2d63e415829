"""The centre console over HTTP (TestClient): sign-in, roles, CSRF, headers, pages, CSV.

The browser-level walk-through is tests/test_console_browser.py; these tests pin the exact
rules (status codes, cookie flags, escaped cells, masked IINs) against SQLite and, where
KIOSK_TEST_POSTGRES_URL is set, PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import test_centre_support as support
from console_support import PASSWORD, ConsoleCentre, console_centre, csrf_of, sync_overrides
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from centre.core.security import Role
from centre.crud.console_auth import LOCKOUT, MAX_FAILED_ATTEMPTS, SignInRefused, authenticate
from centre.crud.incidents import raise_incident
from centre.models import utcnow
from centre.models_console import IncidentAck

db_url = support.db_url


@pytest.fixture
def console(tmp_path: Path, db_url: str) -> Iterator[ConsoleCentre]:
    c = console_centre(tmp_path, db_url)
    c.staff_with_password("ada", Role.admin)
    c.staff_with_password("aud", Role.auditor)
    c.staff_with_password("vic", Role.viewer)
    try:
        yield c
    finally:
        c.close()


def test_sign_in_sets_a_strict_session_cookie_and_signed_out_pages_redirect(
    console: ConsoleCentre,
) -> None:
    anon = console.browser()
    r = anon.get("/console/dashboard", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/signin")

    form = anon.get("/console/signin")
    r = anon.post(
        "/console/signin",
        data={"csrf": csrf_of(form.text), "name": "ada", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("kc_session="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back

    # Behind a TLS-terminating proxy: the proxy says https, the cookie must say Secure.
    https = console.browser("https://testserver", **{"X-Forwarded-Proto": "https"})
    form = https.get("/console/signin")
    r = https.post(
        "/console/signin",
        data={"csrf": csrf_of(form.text), "name": "ada", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("kc_session="))
    assert "secure" in {f.strip().lower() for f in cookie.split(";")[1:]}

    # Signing out ends the session on the server, not only in the browser.
    page = anon.get("/console/overrides")
    stolen = anon.cookies.get("kc_session")
    r = anon.post("/console/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/signin")
    replay = console.browser()
    replay.cookies.set("kc_session", stolen, path="/console")
    assert replay.get("/console/overrides", follow_redirects=False).status_code == 303


def test_wrong_passwords_lock_the_account(console: ConsoleCentre) -> None:
    client = console.browser()
    for _ in range(MAX_FAILED_ATTEMPTS):
        form = client.get("/console/signin")
        r = client.post(
            "/console/signin",
            data={"csrf": csrf_of(form.text), "name": "aud", "password": "not the password"},
        )
        assert r.status_code == 401
    form = client.get("/console/signin")
    r = client.post(
        "/console/signin", data={"csrf": csrf_of(form.text), "name": "aud", "password": PASSWORD}
    )
    assert r.status_code == 401  # the right password, but locked
    with console.ctx.session() as db:
        with pytest.raises(SignInRefused) as exc:
            authenticate(db, "aud", PASSWORD)
        assert exc.value.code == "locked"
        later = utcnow() + LOCKOUT + timedelta(seconds=1)
        assert authenticate(db, "aud", PASSWORD, now=later).name == "aud"


def test_forms_without_the_csrf_token_are_refused(console: ConsoleCentre) -> None:
    inc_id = _incident(console)
    admin = console.sign_in("ada")
    for path, data in (
        (f"/console/incidents/{inc_id}/ack", {"note": "seen"}),
        ("/console/devices/tokens", {"room": "R-9"}),
        ("/console/staff", {"name": "mallory", "role": "admin", "password": PASSWORD}),
        ("/console/signout", {}),
    ):
        assert admin.post(path, data=data).status_code == 403, path
        assert admin.post(path, data={**data, "csrf": "forged"}).status_code == 403, path
    # Sign-in itself: no pre-session cookie/token pair, no sign-in.
    r = console.browser().post("/console/signin", data={"name": "ada", "password": PASSWORD})
    assert r.status_code == 403
    with console.ctx.session() as db:
        assert db.query(IncidentAck).count() == 0
    assert "mallory" not in admin.get("/console/staff").text


def test_roles_are_the_apis(console: ConsoleCentre) -> None:
    auditor = console.sign_in("aud")
    for path in ("/console/devices", "/console/rosters", "/console/staff"):
        r = auditor.get(path)
        assert r.status_code == 403, path
        assert "Your role does not allow this page." in r.text
    csrf = csrf_of(auditor.get("/console/incidents").text)
    r = auditor.post("/console/devices/tokens", data={"csrf": csrf, "room": "R-9"})
    assert r.status_code == 403
    assert auditor.get("/console/dashboard").status_code == 200

    viewer = console.sign_in("vic")
    assert viewer.get("/console/dashboard").status_code == 403
    assert viewer.get("/console/incidents").status_code == 403
    page = viewer.get("/console/overrides")
    assert page.status_code == 200 and "Overrides (" not in page.text  # no record list
    assert "/console/devices" not in viewer.get("/console/overrides").text


def test_overrides_page_flags_the_proctor_and_opens_each_override(
    console: ConsoleCentre, tmp_path: Path
) -> None:
    ids = sync_overrides(console, tmp_path)
    auditor = console.sign_in("aud")
    page = auditor.get("/console/overrides").text
    assert "4 overrides in 30 check-ins (13.3%); alert threshold 5.0%." in page
    # The bribed proctor's bar is drawn in the alert colour with its rate and counts.
    assert 'fill="#c0392b">40.0% · 4 / 10</text>' in page
    assert 'fill="#1f2933">0.0% · 0 / 20</text>' in page
    assert "Overrides (4)" in page

    detail = auditor.get(f"/console/overrides/{ids['override']}").text
    for shown in (
        "P-bribed",
        "appearance changed since the photo",
        "looked like the photo",
        "refused",
        "0.61",
        "passed",
    ):
        assert shown in detail, shown
    assert auditor.get("/console/overrides/no-such-id").status_code == 404

    filtered = auditor.get("/console/overrides?proctor=P-honest").text
    assert "Overrides (0)" in filtered


def test_csv_download_escapes_formula_cells(console: ConsoleCentre, tmp_path: Path) -> None:
    sync_overrides(console, tmp_path, bribed="=HYPERLINK(1)")
    r = console.sign_in("vic").get("/console/overrides.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    proctors = {row["key"]: row for row in rows if row["scope"] == "proctor"}
    assert set(proctors) == {"'=HYPERLINK(1)", "P-honest"}
    assert proctors["'=HYPERLINK(1)"]["overrides"] == "4"
    assert proctors["'=HYPERLINK(1)"]["flagged"] == "True"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


def _incident(console: ConsoleCentre) -> int:
    with console.ctx.session() as db:
        inc = raise_incident(db, "door-7", "gap", seq=12, detail="seq 12..15 missing")
        db.commit()
        return inc.id


def test_acknowledging_an_incident_is_append_only(console: ConsoleCentre) -> None:
    inc_id = _incident(console)
    auditor = console.sign_in("aud")
    listing = auditor.get("/console/incidents?unacked=1").text
    assert f"/console/incidents/{inc_id}" in listing and "missing records" in listing
    page = auditor.get(f"/console/incidents/{inc_id}")
    r = auditor.post(
        f"/console/incidents/{inc_id}/ack",
        data={"csrf": csrf_of(page.text), "note": "door was unplugged for cleaning"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = auditor.get(f"/console/incidents/{inc_id}").text
    assert "aud" in page and "door was unplugged for cleaning" in page
    assert f"/console/incidents/{inc_id}" not in auditor.get("/console/incidents?unacked=1").text

    # The database itself refuses to rewrite or erase the trail.
    for statement in (
        "UPDATE incident_acks SET note = 'nothing happened'",
        "DELETE FROM incident_acks",
    ):
        with console.ctx.engine.connect() as conn, pytest.raises(DBAPIError):
            conn.execute(text(statement))
            conn.commit()
    with console.ctx.session() as db:
        assert [a.note for a in db.query(IncidentAck)] == ["door was unplugged for cleaning"]


def test_every_response_carries_the_security_headers(console: ConsoleCentre) -> None:
    client = console.sign_in("ada")
    for path in ("/console/signin", "/console/overrides", "/api/v1/health", "/console/nope"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src" not in csp and "'unsafe-inline'" not in csp, path
        assert r.headers["x-frame-options"] == "DENY", path
    page = client.get("/console/staff").text
    assert "<script" not in page and " style=" not in page


def test_links_and_redirects_follow_the_proxy_prefix(console: ConsoleCentre) -> None:
    # The proxy strips its prefix before the request reaches the centre; the browser's
    # cookie path includes it, so a test client (no proxy) signs in without the header.
    proxied = {"X-Forwarded-Prefix": "/exam-centre"}
    client = console.sign_in("ada")
    page = client.get("/console/overrides", headers=proxied).text
    assert 'href="/exam-centre/console/static/console.css"' in page
    assert 'action="/exam-centre/console/signout"' in page
    r = console.browser(**proxied).get("/console/dashboard", follow_redirects=False)
    assert r.headers["location"] == "/exam-centre/console/signin"
    r = console.browser(**proxied).get("/console/signin")
    assert "Path=/exam-centre/console" in r.headers["set-cookie"]
    bad = console.browser(**{"X-Forwarded-Prefix": '/x"><a href=//evil'}).get("/console/signin")
    assert "evil" not in bad.text


def test_roster_publishing_signs_and_never_shows_a_full_iin(console: ConsoleCentre) -> None:
    from test_centre_api import roster_doc

    doc = roster_doc("R-5", n=2)
    admin = console.sign_in("ada")
    form = admin.get("/console/rosters")
    r = admin.post(
        "/console/rosters",
        data={"csrf": csrf_of(form.text), "room": "R-5", "doc": json.dumps(doc)},
    )
    assert r.status_code == 200 and "Roster for room R-5 published as version 1." in r.text
    pulled = console.client.get("/api/v1/rosters/R-5/latest", headers=console.staff()).json()
    assert pulled["roster"]["version"] == 1 and pulled["sig"]

    roster_id = r.text.split("/console/rosters/")[1].split('"')[0]
    page = admin.get(f"/console/rosters/{roster_id}").text
    for applicant in doc["applicants"]:
        assert applicant["iin"] not in page
        assert "********" + applicant["iin"][-4:] in page
        assert applicant["templates"][0]["vector"][:16] not in page


def test_admin_enrols_doors_and_manages_staff(console: ConsoleCentre, tmp_path: Path) -> None:
    ids = sync_overrides(console, tmp_path)
    admin = console.sign_in("ada")
    page = admin.get("/console/devices")
    r = admin.post(
        "/console/devices/tokens",
        data={"csrf": csrf_of(page.text), "room": "R-7", "label": "north door"},
    )
    assert "Enrolment token for room R-7" in r.text and "kce_" in r.text
    r = admin.post(
        f"/console/devices/{ids['device_id']}/status",
        data={"csrf": csrf_of(r.text), "status": "revoked"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and console.device(ids["device_id"])["status"] == "revoked"

    page = admin.get("/console/staff")
    r = admin.post(
        "/console/staff",
        data={"csrf": csrf_of(page.text), "name": "bea", "role": "auditor", "password": PASSWORD},
    )
    assert "API key for bea" in r.text and "kcs_" in r.text
    assert console.sign_in("bea").get("/console/dashboard").status_code == 200
    r = admin.post(
        "/console/staff/ada", data={"csrf": csrf_of(r.text), "action": "role", "role": "viewer"}
    )
    assert r.status_code == 422 and "You cannot change your own role" in r.text


def test_first_admin_gets_a_password_from_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from centre.console.__main__ import main as console_main
    from kiosk.cli import main as kiosk_main

    assert kiosk_main(["centre", "add-user", "root", "--role", "admin"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert console_main(["set-password", "root"]) == 0
    assert capsys.readouterr().out.startswith("console password set for root (admin)")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert console_main(["set-password", "root"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert console_main(["set-password", "nobody"]) == 2
    assert "there is no staff user 'nobody'" in capsys.readouterr().err


def test_rates_per_day_read_only_the_charted_month(console: ConsoleCentre, tmp_path: Path) -> None:
    from test_centre_support import checkin_body, device_keys, make_chain

    from centre.crud.override_audit import OverrideFilter, rates_per_day
    from kiosk.protocol.canonical import format_ts

    keys = device_keys(tmp_path, "door-days")
    console.enroll(keys, room="R-1")
    old = make_chain(keys, 2, ts=format_ts(utcnow() - timedelta(days=40)))
    new = make_chain(keys, 3, start_seq=3, prev=old[-1].digest(), body=checkin_body(9))
    assert console.push(keys, old + new).json()["accepted"] == 5
    today = date.fromisoformat(new[0].record.ts[:10])  # not the clock: no midnight race
    with console.ctx.session() as db:
        assert [(d.day, d.checkins) for d in rates_per_day(db, OverrideFilter(), today=today)] == [
            (today.isoformat(), 3)
        ]
        since = (today - timedelta(days=60)).isoformat()
        assert [d.checkins for d in rates_per_day(db, OverrideFilter(since=since))] == [2, 3]
