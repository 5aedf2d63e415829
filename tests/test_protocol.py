"""The wire contract (`kiosk.protocol`): strict typed bodies, the one chain verifier in its
strict (kiosk) and gap-tolerant (centre) modes, the roster anti-rollback rule, and the
package's promise to import nothing else from the kiosk."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import KioskError
from kiosk.protocol.bodies import (
    KeyRotatedBody,
    OverrideBody,
    SessionCloseBody,
    parse_body,
)
from kiosk.protocol.chain import ChainVerifier, key_rotation_body
from kiosk.protocol.envelope import Envelope, new_record, sign_record
from kiosk.protocol.errors import (
    BodyFormatError,
    LedgerTampered,
    ProtocolError,
    RosterRollback,
)
from kiosk.protocol.keys import public_key_b64
from kiosk.protocol.roster import check_not_rollback

DEVICE = "kiosk-0123456789ab"
CLOSE = {
    "session_id": "S-1",
    "room": "R-101",
    "proctor_id": "P-7",
    "booked": 30,
    "checked_in": 28,
    "no_show": 2,
    "overrides": 1,
    "accepted": 27,
    "rejected": 3,
    "needs_proctor": 0,
    "at": "2026-11-29T09:00:00.000Z",
}


def _chain(key: Ed25519PrivateKey, n: int) -> list[Envelope]:
    out: list[Envelope] = []
    prev = None
    for seq in range(1, n + 1):
        env = sign_record(
            new_record("session_close", dict(CLOSE), device=DEVICE, seq=seq, prev=prev), key
        )
        out.append(env)
        prev = env.digest()
    return out


# --- typed bodies ---------------------------------------------------------------------------


def test_a_body_parses_to_its_model_and_back_to_the_same_dict() -> None:
    body = parse_body("session_close", CLOSE)
    assert isinstance(body, SessionCloseBody)
    assert body.checked_in == 28 and body.to_dict() == CLOSE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tip": "x"}, "session_close body has unknown field(s): tip"),
        ({"booked": "30"}, "session_close body: booked must be an integer, got str"),
        ({"booked": True}, "session_close body: booked must be an integer, got bool"),
        ({"proctor_id": None}, "session_close body: proctor_id must be a string, got NoneType"),
    ],
)
def test_a_body_with_an_unknown_or_ill_typed_field_is_refused_by_name(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(BodyFormatError) as err:
        parse_body("session_close", {**CLOSE, **change})
    assert str(err.value) == message and err.value.code == "body_format"


def test_a_body_missing_fields_names_them_all() -> None:
    body = {k: v for k, v in CLOSE.items() if k not in ("no_show", "at")}
    with pytest.raises(
        BodyFormatError, match=r"^session_close body is missing field\(s\): at, no_show$"
    ):
        SessionCloseBody.from_dict(body)


def test_device_events_are_told_apart_by_event() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    body = key_rotation_body(key, key, 5)
    assert parse_body("device_event", body) == KeyRotatedBody.from_dict(body)
    with pytest.raises(BodyFormatError, match=r"^device_event body: unknown event 'dance'$"):
        parse_body("device_event", {"event": "dance"})
    with pytest.raises(BodyFormatError, match="event must be 'key_rotated', got 'clock_jump'"):
        KeyRotatedBody.from_dict({**body, "event": "clock_jump"})


def test_a_json_integer_is_a_number_and_a_null_is_kept() -> None:
    body = {
        "proctor_id": "P-7",
        "reason": "twin_sibling",
        "note": "checked the passport",
        "refused_record_id": "r",
        "applicant_id": None,
        "session_id": "S-1",
        "room": "R-101",
        "role": "proctor",
        "refused_decision": "rejected",
        "refused_reason": "no_match",
        "decision": "accepted_by_override",
        "at": "2026-11-29T09:00:00.000Z",
    }
    assert OverrideBody.from_dict(body).to_dict() == body


def test_protocol_errors_are_kiosk_errors_for_the_cli() -> None:
    assert issubclass(BodyFormatError, ProtocolError) and issubclass(ProtocolError, KioskError)


# --- one verifier, two modes ---------------------------------------------------------------


def test_strict_verifier_refuses_a_gap_that_the_centre_mode_authenticates() -> None:
    key = Ed25519PrivateKey.generate()
    envs = _chain(key, 5)
    without_3 = [envs[0], envs[1], envs[3], envs[4]]
    with pytest.raises(LedgerTampered, match=r"record seq 4 \(id .*\): gap: seq 3 missing"):
        ChainVerifier(key.public_key(), device=DEVICE).verify(without_3)
    tolerant = ChainVerifier(key.public_key(), device=DEVICE, allow_gaps=True)
    assert [tolerant.check(e) for e in without_3] == [True, True, False, True]
    assert tolerant.next_seq == 6 and tolerant.prev == envs[4].digest()


def test_centre_mode_still_refuses_a_forged_record_after_a_gap() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envs = _chain(key, 2)
    forged = sign_record(
        new_record("session_close", dict(CLOSE), device=DEVICE, seq=9, prev=None), other
    )
    tolerant = ChainVerifier(key.public_key(), device=DEVICE, allow_gaps=True)
    tolerant.verify(envs)
    with pytest.raises(LedgerTampered, match=r"record seq 9 .*: bad signature"):
        tolerant.check(forged)
    assert tolerant.next_seq == 3  # the forged record moved nothing


def test_centre_mode_follows_a_rotation_and_ignores_a_malformed_one() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    rot = sign_record(
        new_record(
            "device_event",
            key_rotation_body(old.public_key(), new.public_key(), 2),
            device=DEVICE,
            seq=1,
            prev=None,
        ),
        old,
    )
    after = sign_record(
        new_record("session_close", dict(CLOSE), device=DEVICE, seq=2, prev=rot.digest()), new
    )
    tolerant = ChainVerifier(old.public_key(), device=DEVICE, allow_gaps=True)
    assert tolerant.verify([rot, after]) == 2
    assert [r.public_key_b64 for r in tolerant.rotations] == [public_key_b64(new.public_key())]

    bad_body = {**key_rotation_body(old.public_key(), new.public_key(), 7)}
    bad = sign_record(new_record("device_event", bad_body, device=DEVICE, seq=1, prev=None), old)
    with pytest.raises(LedgerTampered, match="key rotation must take effect at the next seq"):
        ChainVerifier(old.public_key(), device=DEVICE).verify([bad])
    tolerant = ChainVerifier(old.public_key(), device=DEVICE, allow_gaps=True)
    assert tolerant.check(bad) is True and tolerant.rotations == []


# --- rosters ---------------------------------------------------------------------------------


def test_roster_anti_rollback_is_one_rule() -> None:
    check_not_rollback("R-9", 4, 3, "C/R-101")
    with pytest.raises(RosterRollback) as err:
        check_not_rollback("R-9", 3, 3, "C/R-101")
    assert str(err.value) == (
        "roster R-9 version 3 is not newer than the accepted version 3 for C/R-101"
    )


# --- the package boundary ------------------------------------------------------------------


def test_importing_the_protocol_loads_nothing_else_from_the_kiosk() -> None:
    code = (
        "import sys, kiosk.protocol.chain, kiosk.protocol.roster, kiosk.protocol.requests;"
        "print(sorted(m for m in sys.modules if m.startswith('kiosk') and "
        "not m.startswith('kiosk.protocol')));"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['kiosk']", "[]"]


def test_the_override_reason_codes_on_the_wire_are_the_kiosks_reasons() -> None:
    from kiosk.checkin.overrides import OverrideReason
    from kiosk.protocol.bodies import OVERRIDE_REASON_CODES

    assert [r.value for r in OverrideReason] == list(OVERRIDE_REASON_CODES)
