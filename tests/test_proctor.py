"""Proctor PINs, lockout that survives restarts, roles, and the override policy."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.checkin.overrides import OverrideReason, OverrideRequest
from kiosk.checkin.proctor import ProctorDirectory, ProctorRole, require_role
from kiosk.errors import KeyStoreError, PolicyViolation, ProctorAuthError, ProctorLockedOut
from kiosk.protocol.canonical import uuid7

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
PIN_KEY = bytes(range(32))  # in a kiosk: derived from the sealed template key


@pytest.fixture
def directory(tmp_path: Path):
    d = ProctorDirectory(tmp_path / "proctors.sqlite", pin_key=PIN_KEY)
    d.add("p-100", "Aigerim S.", ProctorRole.PROCTOR, "4821")
    d.add("t-200", "Daniyar K.", "technician", "739105")
    yield d
    d.close()


def test_right_pin(directory: ProctorDirectory) -> None:
    account = directory.authenticate("p-100", "4821", now=T0)
    assert (account.proctor_id, account.name, account.role) == (
        "p-100",
        "Aigerim S.",
        ProctorRole.PROCTOR,
    )


def test_pin_is_stored_as_salted_scrypt(directory: ProctorDirectory, tmp_path: Path) -> None:
    directory.add("p-101", "Other", "proctor", "4821")  # same PIN, different salt and hash
    conn = sqlite3.connect(tmp_path / "proctors.sqlite")
    rows = conn.execute(
        "SELECT salt, pin_hash, scrypt_n, scrypt_r, scrypt_p FROM proctors "
        "WHERE proctor_id IN ('p-100', 'p-101')"
    ).fetchall()
    conn.close()
    assert rows[0][0] != rows[1][0] and rows[0][1] != rows[1][1]
    assert rows[0][2:] == (2**14, 8, 1)
    assert all(b"4821" not in bytes(r[1]) for r in rows)


def _failed_attempts(directory: ProctorDirectory, proctor_id: str) -> int:
    row = directory._conn.execute(
        "SELECT failed_attempts FROM proctors WHERE proctor_id = ?", (proctor_id,)
    ).fetchone()
    return int(row[0])


def test_wrong_pin_is_counted_but_not_told(directory: ProctorDirectory) -> None:
    with pytest.raises(ProctorAuthError) as info:
        directory.authenticate("p-100", "9999", now=T0)
    assert str(info.value) == "proctor id or PIN not accepted"
    assert not isinstance(info.value, ProctorLockedOut)
    assert _failed_attempts(directory, "p-100") == 1
    with pytest.raises(ProctorAuthError, match=r"^proctor id or PIN not accepted$"):
        directory.authenticate("p-100", "9999", now=T0)
    assert _failed_attempts(directory, "p-100") == 2
    directory.authenticate("p-100", "4821", now=T0)  # success resets the counter
    assert _failed_attempts(directory, "p-100") == 0


def test_unknown_and_known_ids_fail_with_the_same_sentence(directory: ProctorDirectory) -> None:
    """The sign-in answer must not tell an attacker which proctor ids exist."""
    with pytest.raises(ProctorAuthError) as unknown:
        directory.authenticate("nobody", "4821", now=T0)
    with pytest.raises(ProctorAuthError) as known:
        directory.authenticate("p-100", "0000", now=T0)
    assert str(unknown.value) == str(known.value) == "proctor id or PIN not accepted"
    assert type(unknown.value) is type(known.value) is ProctorAuthError
    assert "p-100" not in str(known.value) and "nobody" not in str(unknown.value)


def _fail(directory: ProctorDirectory, times: int, now: datetime) -> None:
    for _ in range(times):
        with pytest.raises(ProctorAuthError):
            directory.authenticate("p-100", "0000", now=now)


def test_lockout_after_five_failures_even_with_right_pin(directory: ProctorDirectory) -> None:
    _fail(directory, 4, T0)
    with pytest.raises(
        ProctorLockedOut, match=r"^5 failures in a row: sign-in locked for 5 minutes$"
    ):
        directory.authenticate("p-100", "0000", now=T0)
    with pytest.raises(ProctorLockedOut, match=r"until 2025-06-01T09:05:00.000Z \(300 s left\)"):
        directory.authenticate("p-100", "4821", now=T0)  # the right PIN does not help
    # other accounts are unaffected
    assert directory.authenticate("t-200", "739105", now=T0).role is ProctorRole.TECHNICIAN


def test_an_unknown_id_answers_exactly_like_a_real_one(directory: ProctorDirectory) -> None:
    """Sign-in must not tell which ids exist: not by the wrong-PIN text, and not by a
    lockout that only real ids would get."""

    def answers(proctor_id: str) -> list[str]:
        out = []
        for i in range(7):
            with pytest.raises(ProctorAuthError) as info:
                directory.authenticate(proctor_id, "0000", now=T0 + timedelta(seconds=i))
            out.append(f"{type(info.value).__name__}: {info.value}")
        return out

    real, unknown = answers("p-100"), answers("nobody-7")
    assert real == unknown
    assert real[4] == "ProctorLockedOut: 5 failures in a row: sign-in locked for 5 minutes"
    assert "p-100" not in " ".join(real)


def test_lockout_persists_across_restart(directory: ProctorDirectory, tmp_path: Path) -> None:
    _fail(directory, 5, T0)
    directory.close()
    again = ProctorDirectory(tmp_path / "proctors.sqlite", pin_key=PIN_KEY)
    with pytest.raises(ProctorLockedOut, match=r"\(60 s left\)"):
        again.authenticate("p-100", "4821", now=T0 + timedelta(minutes=4))
    again.close()


def test_failure_count_persists_across_restart(directory: ProctorDirectory, tmp_path: Path) -> None:
    _fail(directory, 3, T0)
    again = ProctorDirectory(tmp_path / "proctors.sqlite", pin_key=PIN_KEY)
    with pytest.raises(ProctorAuthError, match=r"^proctor id or PIN not accepted$"):
        again.authenticate("p-100", "0000", now=T0)
    assert _failed_attempts(again, "p-100") == 4
    again.close()


def test_unlocks_after_five_minutes(directory: ProctorDirectory) -> None:
    _fail(directory, 5, T0)
    with pytest.raises(ProctorLockedOut):
        directory.authenticate("p-100", "4821", now=T0 + timedelta(minutes=4, seconds=59))
    account = directory.authenticate("p-100", "4821", now=T0 + timedelta(minutes=5))
    assert account.proctor_id == "p-100"
    # and the counter starts over
    with pytest.raises(ProctorAuthError) as info:
        directory.authenticate("p-100", "0000", now=T0 + timedelta(minutes=6))
    assert not isinstance(info.value, ProctorLockedOut)
    assert _failed_attempts(directory, "p-100") == 1


def test_admin_unlock_and_set_pin(directory: ProctorDirectory) -> None:
    _fail(directory, 5, T0)
    directory.unlock("p-100")
    assert directory.authenticate("p-100", "4821", now=T0).proctor_id == "p-100"
    directory.set_pin("p-100", "5038")
    with pytest.raises(ProctorAuthError):
        directory.authenticate("p-100", "4821", now=T0)
    assert directory.authenticate("p-100", "5038", now=T0).proctor_id == "p-100"


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        ("123", "4 to 8 digits"),
        ("123456789", "4 to 8 digits"),
        ("12a4", "4 to 8 digits"),
        ("١٢٣٤", "4 to 8 digits"),  # Arabic-Indic digits are not ASCII digits
        ("1111", "too easy"),
        ("1234", "too easy"),
        ("9876", "too easy"),
    ],
)
def test_pin_policy(directory: ProctorDirectory, pin: str, message: str) -> None:
    with pytest.raises(PolicyViolation, match=message):
        directory.add("p-300", "New", "proctor", pin)


def test_duplicate_and_bad_role(directory: ProctorDirectory) -> None:
    with pytest.raises(PolicyViolation, match="already exists"):
        directory.add("p-100", "Again", "proctor", "4821")
    with pytest.raises(PolicyViolation, match="unknown role"):
        directory.add("p-400", "X", "janitor", "4821")
    assert [a.proctor_id for a in directory.list()] == ["p-100", "t-200"]


def test_require_role(directory: ProctorDirectory) -> None:
    proctor = directory.get("p-100")
    tech = directory.get("t-200")
    admin = directory.add("a-1", "Admin", "admin", "802611")
    require_role(proctor, ProctorRole.PROCTOR)
    require_role(admin, ProctorRole.TECHNICIAN)  # admin may do everything
    require_role(tech, [ProctorRole.PROCTOR, ProctorRole.TECHNICIAN])
    with pytest.raises(PolicyViolation, match="t-200 is a technician; this action needs proctor"):
        require_role(tech, ProctorRole.PROCTOR)


# --- overrides -------------------------------------------------------------------------------


def test_override_reasons_have_labels() -> None:
    assert {r.value for r in OverrideReason} >= {
        "document_checked_manually",
        "camera_or_lighting_fault",
        "appearance_changed",
        "medical_or_accessibility",
        "liveness_false_reject",
        "other",
    }
    assert all(r.label and r.label[0].isupper() for r in OverrideReason)


def test_valid_override_and_body() -> None:
    rid = uuid7()
    req = OverrideRequest("p-100", OverrideReason.APPEARANCE_CHANGED, "  new glasses, beard  ", rid)
    assert req.to_body() == {
        "proctor_id": "p-100",
        "reason": "appearance_changed",
        "note": "new glasses, beard",
        "refused_record_id": rid,
    }
    assert OverrideRequest("p-100", "other", "x" * 30, rid).reason is OverrideReason.OTHER


@pytest.mark.parametrize(
    ("reason", "note", "message"),
    [
        (OverrideReason.APPEARANCE_CHANGED, "", "at least 10"),
        (OverrideReason.APPEARANCE_CHANGED, "   short   ", "at least 10"),
        (OverrideReason.APPEARANCE_CHANGED, "x" * 501, "at most 500"),
        (OverrideReason.OTHER, "x" * 29, "at least 30 characters when the reason is Other"),
        ("because", "x" * 40, "unknown override reason"),
    ],
)
def test_override_without_a_proper_reason_is_refused(reason, note: str, message: str) -> None:
    with pytest.raises(PolicyViolation, match=message):
        OverrideRequest("p-100", reason, note, uuid7())


def test_override_must_name_proctor_and_record() -> None:
    with pytest.raises(PolicyViolation, match="name the proctor"):
        OverrideRequest("", OverrideReason.APPEARANCE_CHANGED, "new glasses today", uuid7())
    with pytest.raises(PolicyViolation, match="not a ledger record id"):
        OverrideRequest("p-100", OverrideReason.APPEARANCE_CHANGED, "new glasses today", "42")


def test_a_stolen_proctors_file_alone_gives_no_way_to_check_a_guess(
    directory: ProctorDirectory, tmp_path: Path
) -> None:
    """Cracks nothing: with only the file, the stored value is not scrypt(PIN, salt) even
    for the right PIN, and the file refuses to be opened with any other key; what was
    crackable offline in 534 s is now a keyed MAC under a key sealed with the device."""
    import hashlib
    import hmac
    import shutil

    stolen = tmp_path / "stolen.sqlite"
    directory.close()
    shutil.copy2(tmp_path / "proctors.sqlite", stolen)
    with sqlite3.connect(stolen) as conn:
        salt, stored, n, r, p = conn.execute(
            "SELECT salt, pin_hash, scrypt_n, scrypt_r, scrypt_p FROM proctors "
            "WHERE proctor_id = 'p-100'"
        ).fetchone()
    right_guess = hashlib.scrypt(b"4821", salt=salt, n=n, r=r, p=p, dklen=32)
    assert right_guess != stored  # the old offline check no longer recognises the PIN
    wrong_key = hmac.new(bytes(32), right_guess, hashlib.sha256).digest()
    assert wrong_key != stored  # nor does keying with a guessed key
    with pytest.raises(KeyStoreError, match="keyed by another device's keys"):
        ProctorDirectory(stolen, pin_key=bytes(32))
    # with the device's key the same file still signs the proctor in
    assert ProctorDirectory(stolen, pin_key=PIN_KEY).authenticate("p-100", "4821", now=T0)


def test_hashes_from_before_keying_are_keyed_on_open(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "legacy.sqlite"
    salt = b"s" * 16
    legacy = hashlib.scrypt(b"4821", salt=salt, n=2**14, r=8, p=1, dklen=32)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE proctors (proctor_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "role TEXT NOT NULL, salt BLOB NOT NULL, pin_hash BLOB NOT NULL, "
            "scrypt_n INTEGER NOT NULL, scrypt_r INTEGER NOT NULL, scrypt_p INTEGER NOT NULL, "
            "failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until_ms INTEGER)"
        )
        conn.execute(
            "INSERT INTO proctors VALUES ('p-1', 'Old', 'proctor', ?, ?, 16384, 8, 1, 0, NULL)",
            (salt, legacy),
        )
    d = ProctorDirectory(path, pin_key=PIN_KEY)
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT pin_hash FROM proctors").fetchone()
    assert stored != legacy
    assert d.authenticate("p-1", "4821", now=T0).name == "Old"
    d.add("p-2", "New", "proctor", "1397")
    d.close()
    again = ProctorDirectory(path, pin_key=PIN_KEY)  # new rows are not keyed twice
    assert again.authenticate("p-2", "1397", now=T0).name == "New"
    again.close()


def test_lockouts_escalate_and_a_right_pin_resets_them(directory: ProctorDirectory) -> None:
    at = T0
    for minutes in (5, 30, 240, 240):
        _fail(directory, 5, at)
        with pytest.raises(ProctorLockedOut, match=rf"\({minutes * 60} s left\)"):
            directory.authenticate("p-100", "4821", now=at)
        at += timedelta(minutes=minutes)
    directory.authenticate("p-100", "4821", now=at)
    _fail(directory, 5, at)
    with pytest.raises(ProctorLockedOut, match=r"\(300 s left\)"):
        directory.authenticate("p-100", "4821", now=at)
