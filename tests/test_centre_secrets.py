"""The centre's secrets at rest: the roster-signing key and the roster-storage key are
sealed under the operator's passphrase, stored rosters (which carry enrolment templates)
are ciphertext and are purged after their session's retention, and the data folder is
owner-only."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_centre_api import roster_doc
from test_centre_support import Centre, make_settings

from centre.core.keys import KEY_FILE, CentreKey
from centre.errors import CentreError, CentreKeyError
from kiosk.owner_only import loose_paths


@pytest.fixture
def centre(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Centre(make_settings(tmp_path, f"sqlite:///{tmp_path / 'centre-data' / 'c.sqlite'}"))
    yield c
    c.close()


def test_keys_are_sealed_and_need_the_passphrase(tmp_path: Path) -> None:
    key = CentreKey.load_or_create(tmp_path, "centre passphrase 1")
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(files) == ["centre_signing_key.sealed", "roster_storage_key.sealed"]
    raw = key.private_key.private_bytes_raw()
    for data in files.values():
        assert b"PRIVATE KEY" not in data and raw not in data
        assert base64.b64encode(raw) not in data
    assert loose_paths(tmp_path) == []
    again = CentreKey.load_or_create(tmp_path, "centre passphrase 1")
    assert again.key_id == key.key_id and again.roster_key == key.roster_key
    with pytest.raises(CentreKeyError, match="wrong centre key passphrase"):
        CentreKey.load_or_create(tmp_path, "not the passphrase")
    env = {k: v for k, v in os.environ.items() if "PASSPHRASE" not in k}
    from centre.core.sealing import centre_passphrase

    with pytest.raises(CentreKeyError, match="set KIOSK_CENTRE_KEY_PASSPHRASE"):
        centre_passphrase(env)


def test_a_plain_pem_key_is_sealed_and_removed(tmp_path: Path) -> None:
    legacy = Ed25519PrivateKey.generate()
    pem = legacy.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / KEY_FILE).write_bytes(pem)
    key = CentreKey.load_or_create(tmp_path, "centre passphrase 1")
    assert key.private_key.private_bytes_raw() == legacy.private_bytes_raw()
    assert not (tmp_path / KEY_FILE).exists()


def _db_bytes(c: Centre) -> bytes:
    folder = c.settings.data_dir
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("c.sqlite"))


def test_stored_rosters_are_ciphertext_and_served_exactly(centre: Centre) -> None:
    doc = roster_doc()
    r = centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff())
    assert r.status_code == 201, r.text
    vector = doc["applicants"][0]["templates"][0]["vector"]
    iin = doc["applicants"][0]["iin"]
    data = _db_bytes(centre)
    assert vector.encode() not in data and iin.encode() not in data  # not in the DB, nor WAL
    with sqlite3.connect(centre.settings.data_dir / "c.sqlite") as conn:
        (stored,) = conn.execute("SELECT signed_doc FROM rosters").fetchone()
    assert stored.startswith("enc-v1:")
    served = centre.client.get("/api/v1/rosters/R-101/latest", headers=centre.staff())
    assert served.status_code == 200
    import hashlib

    assert hashlib.sha256(served.content).hexdigest() == r.json()["sha256"]
    assert json.loads(served.content)["roster"]["applicants"][0]["iin"] == iin
    assert loose_paths(centre.settings.data_dir) == []


def test_a_roster_is_purged_after_its_session_and_retention(centre: Centre) -> None:
    doc = roster_doc()
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=45)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    doc["session"]["starts_at"] = long_ago.strftime(fmt)
    doc["session"]["ends_at"] = (long_ago + timedelta(hours=2)).strftime(fmt)
    doc["issued_at"] = long_ago.strftime(fmt)
    r = centre.client.post("/api/v1/rosters/R-101", json=doc, headers=centre.staff())
    assert r.status_code == 201, r.text
    # the next publish (or the next start) purges what is past retention
    r = centre.client.post(
        "/api/v1/rosters/R-102", json=roster_doc("R-102"), headers=centre.staff()
    )
    assert r.status_code == 201, r.text
    served = centre.client.get("/api/v1/rosters/R-101/latest", headers=centre.staff())
    assert served.status_code == 410 and served.json()["error"] == "roster_purged"
    with sqlite3.connect(centre.settings.data_dir / "c.sqlite") as conn:
        rows = dict(conn.execute("SELECT room, signed_doc FROM rosters").fetchall())
    assert rows["R-101"] == "" and rows["R-102"].startswith("enc-v1:")


def test_a_loosened_centre_folder_refuses_to_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'centre-data' / 'c.sqlite'}")
    Centre(settings).close()
    os.chmod(settings.data_dir / "c.sqlite", 0o644)
    with pytest.raises(CentreError, match=r"c\.sqlite \(644\)"):
        Centre(settings)
