"""Helpers for the console tests (imported by them; no tests here).

`ConsoleCentre` is the API tests' `Centre` plus staff who sign in with passwords and a
browser-like client that keeps cookies and reads each form's CSRF token. `sync_overrides`
has a real enrolled kiosk push real signed, chained check-ins and overrides.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from test_centre_support import Centre, checkin_body, device_keys, make_chain, make_settings

from centre.core.security import Role
from centre.crud.console_auth import set_password
from centre.crud.staff_admin import user_by_name

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class ConsoleCentre(Centre):
    def staff_with_password(self, name: str, role: Role) -> str:
        token = self.add_user(name, role)
        with self.ctx.session() as db:
            set_password(db, user_by_name(db, name), PASSWORD)
            db.commit()
        return token

    def browser(self, base_url: str = "http://testserver", **headers: str) -> Any:
        """A fresh TestClient (own cookie jar) on the same app, asking for English pages."""
        from fastapi.testclient import TestClient

        headers = {"Accept-Language": "en", **headers}
        return TestClient(
            self.app, base_url=base_url, raise_server_exceptions=False, headers=headers
        )

    def sign_in(self, name: str, password: str = PASSWORD, **headers: str) -> Any:
        client = self.browser(**headers)
        form = client.get("/console/signin")
        r = client.post(
            "/console/signin",
            data={"csrf": csrf_of(form.text), "name": name, "password": password},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return client


def override_body(refused: Any, proctor: str, reason: str = "appearance_changed") -> dict[str, Any]:
    b = refused.record.body
    return {
        "proctor_id": proctor,
        "reason": reason,
        "note": "looked like the photo",
        "overrides": refused.record.id,
        "applicant_id": b["applicant_id"],
        "session_id": b["session_id"],
    }


def sync_overrides(centre: Centre, root: Path, *, bribed: str = "P-bribed") -> dict[str, Any]:
    """Room R-1: P-honest, 20 check-ins, 0 overrides. Room R-2: `bribed` overrides 4 of 10.

    Returns the ids a test looks for: the first override's id and the refused check-in's.
    """
    keys = device_keys(root, "door-console")
    centre.enroll(keys, room="R-2")
    envs: list[Any] = []
    state: dict[str, Any] = {"prev": None, "seq": 1}

    def add(rtype: str, body: dict[str, Any]) -> Any:
        env = make_chain(
            keys, 1, start_seq=state["seq"], prev=state["prev"], record_type=rtype, body=body
        )[0]
        state["prev"], state["seq"] = env.digest(), state["seq"] + 1
        envs.append(env)
        return env

    for i in range(20):
        add("checkin", checkin_body(i, session="S-1", room="R-1", proctor="P-honest"))
    first: dict[str, str] = {}
    for i in range(10):
        refused = i < 4
        env = add(
            "checkin",
            checkin_body(
                100 + i, session="S-2", room="R-2", decision="rejected" if refused else "accepted"
            ),
        )
        if refused:
            over = add("override", override_body(env, bribed))
            first = first or {"override": over.record.id, "refused": env.record.id}
    r = centre.push(keys, envs)
    assert r.json()["accepted"] == len(envs), r.text
    return {"device_id": keys.device_id, **first}


def console_centre(tmp_path: Path, db_url: str, **settings: Any) -> ConsoleCentre:
    return ConsoleCentre(make_settings(tmp_path, db_url, **settings))
