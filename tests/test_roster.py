"""Signed session rosters: round trip, every refusal, IIN checks, anti-rollback storage."""

from __future__ import annotations

import base64
import copy
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.checkin.roster import (
    BookedApplicant,
    ExamSession,
    Roster,
    Template,
    make_iin,
    parse_signed_roster,
    sign_roster,
    validate_iin,
)
from kiosk.checkin.roster_store import RosterStore
from kiosk.errors import (
    RosterError,
    RosterExpired,
    RosterRollback,
    RosterSignatureInvalid,
    UnknownApplicant,
)
from kiosk.ledger.vault import TemplateVault
from kiosk.protocol.canonical import canonical_json

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def _vec(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def _iin(birth: date, digit: int, serial: int) -> str:
    while True:
        try:
            return make_iin(birth, digit, serial)
        except ValueError:
            serial += 1


def _roster(version: int = 2, n: int = 3) -> Roster:
    rng = np.random.default_rng(version)
    applicants = [
        BookedApplicant(
            applicant_id=f"APP-{i}",
            iin=_iin(date(1990 + i, 3, 14), 3 + i % 2, 100 + i),
            name=f"Applicant {i}",
            seat=f"{i + 1:02d}",
            booking_code=f"BK-{1000 + i}",
            templates=[Template("sface-2021dec", _vec(rng)) for _ in range(2)],
        )
        for i in range(n)
    ]
    session = ExamSession(
        "SES-1", "ALA-01", "101", "theory", NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    )
    return Roster("R-1", version, NOW, NOW + timedelta(hours=12), session, applicants)


@pytest.fixture(scope="module")
def centre() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# --- IIN -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iin",
    [
        "880101300010",  # weights 1..11 give 66 mod 11 = 0
        "880101300172",  # first pass gives 10; weights 3..11,1,2 give 112 mod 11 = 2
        "050515600018",  # born 2005, 7th digit 6 (21st century, female)
    ],
)
def test_valid_iins(iin: str) -> None:
    validate_iin(iin)


@pytest.mark.parametrize(
    ("iin", "message"),
    [
        ("880101300011", "bad checksum"),
        ("880101300173", "bad checksum"),
        ("880101300100", "bad checksum"),  # both passes give 10: no valid check digit
        ("88010130017", "12 digits"),
        ("8801013001722", "12 digits"),
        ("88010130017a", "12 digits"),
        ("880101700172", "7th digit must be 1–6"),
        ("881301300172", "not a valid birth date"),
        ("880230300172", "not a valid birth date"),
    ],
)
def test_invalid_iins(iin: str, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        validate_iin(iin)


def test_iin_errors_do_not_print_the_whole_number() -> None:
    with pytest.raises(RosterError) as info:
        validate_iin("880101300011")
    assert "88010130" not in str(info.value) and "0011" in str(info.value)


def test_make_iin_checks_century() -> None:
    assert make_iin(date(1988, 1, 1), 3, 17) == "880101300172"
    with pytest.raises(ValueError, match="does not fit"):
        make_iin(date(1988, 1, 1), 5, 17)
    with pytest.raises(ValueError, match="no valid check digit"):
        make_iin(date(1988, 1, 1), 3, 10)


# --- signing and parsing ---------------------------------------------------------------------


def test_sign_parse_round_trip(centre: Ed25519PrivateKey) -> None:
    roster = _roster()
    signed = sign_roster(roster, centre)
    assert set(signed) == {"roster", "sig", "key_id"} and len(signed["key_id"]) == 16
    wire = json.dumps(signed).encode()
    parsed = parse_signed_roster(wire, centre.public_key(), now=NOW)
    assert parsed == roster
    t = parsed.applicants[0].templates[0]
    assert t.vector.dtype == np.float32 and abs(float(np.linalg.norm(t.vector)) - 1) < 1e-6
    assert parsed.by_booking_code("bk 1001").applicant_id == "APP-1"
    assert parsed.by_iin(roster.applicants[2].iin).applicant_id == "APP-2"
    assert parsed.by_applicant_id("APP-0").seat == "01"
    with pytest.raises(UnknownApplicant):
        parsed.by_booking_code("BK-9999")


def test_wrong_key_is_refused(centre: Ed25519PrivateKey) -> None:
    signed = sign_roster(_roster(), Ed25519PrivateKey.generate())
    with pytest.raises(RosterSignatureInvalid, match="not the pinned centre key"):
        parse_signed_roster(signed, centre.public_key(), now=NOW)
    # same key id claimed, but signed by another key
    signed["key_id"] = sign_roster(_roster(), centre)["key_id"]
    with pytest.raises(RosterSignatureInvalid, match="does not verify"):
        parse_signed_roster(signed, centre.public_key(), now=NOW)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["roster"]["applicants"][0].__setitem__("name", "Stand In"),
        lambda d: d["roster"].__setitem__("version", 99),
        lambda d: d["roster"]["applicants"][1]["templates"].pop(),
        lambda d: d["roster"]["session"].__setitem__("room", "102"),
    ],
    ids=["name", "version", "template removed", "room"],
)
def test_edited_roster_is_refused(centre: Ed25519PrivateKey, edit) -> None:
    signed = sign_roster(_roster(), centre)
    edited = copy.deepcopy(signed)
    edit(edited)
    with pytest.raises(RosterSignatureInvalid, match="edited"):
        parse_signed_roster(edited, centre.public_key(), now=NOW)


def test_unsigned_roster_is_refused(centre: Ed25519PrivateKey) -> None:
    signed = sign_roster(_roster(), centre)
    with pytest.raises(RosterSignatureInvalid, match="not signed"):
        parse_signed_roster(signed["roster"], centre.public_key(), now=NOW)
    with pytest.raises(RosterSignatureInvalid, match="not signed"):
        parse_signed_roster({"roster": signed["roster"]}, centre.public_key(), now=NOW)


def test_expired_roster_is_refused(centre: Ed25519PrivateKey) -> None:
    signed = sign_roster(_roster(), centre)
    with pytest.raises(RosterExpired, match="expired at"):
        parse_signed_roster(signed, centre.public_key(), now=NOW + timedelta(hours=12))


def test_rollback_is_refused(centre: Ed25519PrivateKey) -> None:
    signed = sign_roster(_roster(version=3), centre)
    assert parse_signed_roster(signed, centre.public_key(), now=NOW, min_version=2).version == 3
    with pytest.raises(RosterRollback, match=r"version 3 is not newer than .* 3"):
        parse_signed_roster(signed, centre.public_key(), now=NOW, min_version=3)


def test_malformed_but_signed_roster_is_refused(centre: Ed25519PrivateKey) -> None:
    bad = _roster()
    bad.applicants[1] = BookedApplicant(
        "APP-1", "880101300011", "X", "02", "BK-1", bad.applicants[1].templates
    )
    with pytest.raises(RosterError, match=r"APP-1: IIN .*bad checksum"):
        sign_roster(bad, centre)  # the centre refuses to sign it ...
    doc = sign_roster(_roster(), centre)
    doc["roster"]["applicants"][0]["iin"] = "880101300011"
    doc["sig"] = base64.b64encode(centre.sign(canonical_json(doc["roster"]))).decode()
    with pytest.raises(RosterError, match="bad checksum"):  # ... and so does the kiosk
        parse_signed_roster(doc, centre.public_key(), now=NOW)


def test_duplicate_json_keys_are_refused(centre: Ed25519PrivateKey) -> None:
    wire = json.dumps(sign_roster(_roster(), centre))
    wire = wire.replace('"key_id":', '"key_id": "x", "key_id":', 1)
    with pytest.raises(RosterError, match="duplicate key"):
        parse_signed_roster(wire, centre.public_key(), now=NOW)


# --- RosterStore -----------------------------------------------------------------------------


def test_store_keeps_versions_across_restarts_and_templates_encrypted(
    tmp_path: Path, centre: Ed25519PrivateKey
) -> None:
    key = os.urandom(32)
    roster = _roster(version=2)
    vault = TemplateVault(tmp_path / "vault.sqlite", key)
    store = RosterStore(tmp_path / "rosters.sqlite", vault)
    store.accept(sign_roster(roster, centre), centre.public_key(), now=NOW)
    assert store.version("ALA-01", "101") == 2
    store.close()
    vault.close()

    raw = roster.applicants[0].templates[0].vector.astype("<f4").tobytes()
    assert not any(raw in p.read_bytes() for p in tmp_path.iterdir())

    vault = TemplateVault(tmp_path / "vault.sqlite", key)
    store = RosterStore(tmp_path / "rosters.sqlite", vault)
    assert store.load("ALA-01", "101") == roster
    assert store.load("ALA-01", "999") is None
    with pytest.raises(RosterRollback):
        store.accept(sign_roster(_roster(version=1), centre), centre.public_key(), now=NOW)
    with pytest.raises(RosterRollback):
        store.accept(sign_roster(_roster(version=2), centre), centre.public_key(), now=NOW)
    newer = store.accept(sign_roster(_roster(version=5), centre), centre.public_key(), now=NOW)
    assert store.version("ALA-01", "101") == 5
    assert store.load("ALA-01", "101") == newer
    # retention: templates expire with the session + retention period
    assert vault.purge(NOW + timedelta(hours=2, days=30)) == 3
    assert all(not a.templates for a in store.load("ALA-01", "101").applicants)
    store.close()
    vault.close()
