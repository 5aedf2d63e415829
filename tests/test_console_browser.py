"""The console in a real browser: headless Chromium (Debian's) against a real centre.

A real uvicorn centre on 127.0.0.1; an administrator enrols a door through the console; a
real kiosk (LedgerStore + SyncClient) syncs signed check-ins and overrides over HTTP; the
auditor sees the bribed proctor above the alert line and opens each override; the
auditor cannot reach administration; a form without its CSRF token is refused; the CSV has
defused cells. Each page is saved to docs/screens/centre-*.png for people to look at.

Skipped, with the reason, only when /usr/bin/chromium is not installed (`apt-get install
chromium`; never `playwright install`, which downloads a browser of its own).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import PASSWORD, override_body
from test_centre_support import UvicornThread, checkin_body, device_keys, make_settings, signed

from centre.app import create_app
from centre.core.security import Role
from centre.crud.console_auth import set_password
from centre.crud.incidents import raise_incident
from centre.crud.users import add_user
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.sync.client import SyncClient

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = Path(__file__).resolve().parent.parent / "docs" / "screens"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[dict[str, Any]]:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'centre.sqlite'}"))
    ctx = app.state.centre
    with ctx.session() as db:
        for name, role in (("ada", Role.admin), ("aud", Role.auditor)):
            user, _ = add_user(db, name, role)
            set_password(db, user, PASSWORD)
        db.commit()
    server = UvicornThread(app).start()
    try:
        yield {"url": server.url, "ctx": ctx}
    finally:
        server.stop()
        ctx.engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _sign_in(browser: Any, url: str, name: str, lang: str = "en") -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale=lang)
    page = context.new_page()
    page.goto(f"{url}/console/signin")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def _shot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"centre-{name}.png"), full_page=True)


def _kiosk_syncs(root: Path, url: str, token: str) -> None:
    """A real kiosk ledger and sync client: check-ins, refusals, overrides, a clock event."""
    keys = DeviceKeys.load_or_create(root / "kiosk")
    store = LedgerStore(root / "kiosk" / "ledger.sqlite", keys)
    for i in range(20):
        store.append("checkin", checkin_body(i, session="S-1", room="R-1", proctor="P-honest"))
    for i in range(8):
        store.append("checkin", checkin_body(50 + i, session="S-3", room="R-3", proctor="-2+3"))
    for i in range(10):
        env = store.append(
            "checkin",
            checkin_body(
                100 + i, session="S-2", room="R-2", decision="rejected" if i < 4 else "accepted"
            ),
        )
        if i < 4:
            store.append("override", override_body(env, "P-bribed"))
    store.append(
        "device_event",
        {"event": "clock_skew", "skew_s": -2.4, "uncertainty_s": 0.5, "centre_date": "-"},
    )
    with SyncClient(store, keys, url) as client:
        client.enroll(token, label="north door")
        client.push_all()
    assert store.counts()["acked"] == 43


def _silent_door(root: Path, url: str, token: str) -> None:
    """A second door enrolled in R-2 that never syncs: red on the dashboard in session."""
    import httpx

    keys = device_keys(root, "door-silent")
    body = json.dumps(
        {"token": token, "device_id": keys.device_id, "public_key": keys.public_key_b64()}
    ).encode()
    with httpx.Client(base_url=url) as client:
        assert signed(client, keys, "POST", "/api/v1/devices/enroll", body).status_code == 201


def _new_token(page: Any, url: str, room: str) -> str:
    page.goto(f"{url}/console/devices")
    page.fill("form[action$='/devices/tokens'] input[name=room]", room)
    page.click("form[action$='/devices/tokens'] button")
    return str(page.inner_text("code.secret")).strip()


def test_console_in_a_real_browser(live: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    from test_centre_api import roster_doc

    url = live["url"]
    admin = _sign_in(browser, url, "ada")
    _shot(admin, "dashboard-empty")
    token = _new_token(admin, url, "R-2")
    _shot(admin, "devices-token")
    _kiosk_syncs(tmp_path, url, token)
    _silent_door(tmp_path, url, _new_token(admin, url, "R-2"))

    admin.goto(f"{url}/console/rosters")
    admin.fill("form input[name=room]", "R-2")
    admin.fill("form textarea[name=doc]", json.dumps(roster_doc("R-2", n=3)))
    admin.click("form[action$='/rosters'] button")
    assert "published as version 1" in admin.inner_text("p.ok")
    admin.click("table a")  # the roster just published
    text = admin.inner_text("main")
    assert "********" in text and "Applicant 0" in text
    _shot(admin, "roster")
    admin.goto(f"{url}/console/rosters")
    _shot(admin, "rosters")
    admin.goto(f"{url}/console/staff")
    _shot(admin, "staff")
    admin.goto(f"{url}/console/devices")
    _shot(admin, "devices")

    with live["ctx"].session() as db:
        raise_incident(db, "door-7", "gap", seq=41, detail="seq 41..44 not received")
        raise_incident(db, "door-7", "fork", seq=45, detail="two records claim seq 45")
        db.commit()

    # The auditor: the dashboard, the flagged proctor, one override opened.
    auditor = _sign_in(browser, url, "aud")
    assert auditor.url.endswith("/console/dashboard")
    assert auditor.locator("tr.alarm").count() == 1
    assert "silent during an open session" in auditor.inner_text("tr.alarm")
    assert "-2.4 s" in auditor.inner_text("main")
    _shot(auditor, "dashboard")

    auditor.click("nav >> text=Overrides")
    proctor_chart = auditor.locator("figure.chart").first
    bribed = proctor_chart.locator("text", has_text="P-bribed")
    assert bribed.count() == 1
    flagged = proctor_chart.locator("text[fill='#c0392b']")
    assert flagged.all_text_contents() == ["40.0% · 4 / 10"]
    assert "4 overrides in 38 check-ins" in auditor.inner_text("p.summary")
    _shot(auditor, "overrides")
    auditor.click("main table a >> nth=0")
    detail = auditor.inner_text("main")
    for shown in (
        "P-bribed",
        "appearance changed since the photo",
        "looked like the photo",
        "refused",
        "0.61",
    ):
        assert shown in detail, shown
    _shot(auditor, "override")

    # Acknowledge an incident through the form.
    auditor.goto(f"{url}/console/incidents")
    _shot(auditor, "incidents")
    auditor.click("main table a >> nth=0")
    auditor.fill("textarea[name=note]", "Door 7 was offline for a firmware update.")
    auditor.click("form[action$='/ack'] button")
    assert "Door 7 was offline" in auditor.inner_text("main")
    _shot(auditor, "incident")

    # No administration for an auditor, however it is asked for.
    assert auditor.locator("nav >> text=Doors").count() == 0
    response = auditor.goto(f"{url}/console/staff")
    assert response is not None and response.status == 403
    _shot(auditor, "forbidden")

    # A form posted without its CSRF token (same browser, same session cookie) is refused.
    inc = auditor.request.post(f"{url}/console/incidents/1/ack", form={"note": "forged"})
    assert inc.status == 403
    forged = admin.request.post(f"{url}/console/devices/tokens", form={"room": "R-9"})
    assert forged.status == 403

    csv_text = auditor.request.get(f"{url}/console/overrides.csv").text()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    keys = {row["key"] for row in rows if row["scope"] == "proctor"}
    assert keys == {"'-2+3", "P-bribed", "P-honest"}

    # The Kazakh console, switched by the language link.
    auditor.goto(f"{url}/console/overrides")
    auditor.click(".langs >> text=Қазақша")
    assert "Қолмен рұқсаттар" in auditor.inner_text("h1")
    _shot(auditor, "overrides-kk")
    anon = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ru").new_page()
    anon.goto(f"{url}/console/signin")
    _shot(anon, "signin-ru")
