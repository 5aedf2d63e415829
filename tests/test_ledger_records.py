"""Record format v1 (`kiosk.protocol`): RFC 8785 canonical JSON, strict parsing, signatures
and strict chain checks. Typed bodies and the gap-tolerant verifier: test_protocol.py."""

from __future__ import annotations

import copy
import json
import re
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import LedgerTampered, RecordFormatError, SignatureInvalid
from kiosk.protocol.canonical import canonical_json, uuid7
from kiosk.protocol.chain import key_rotation_body, verify_chain
from kiosk.protocol.envelope import (
    RECORD_TYPES,
    Envelope,
    new_record,
    sign_record,
    verify_envelope,
)

DEVICE = "kiosk-0123456789ab"


def _chain(key: Ed25519PrivateKey, n: int, device: str = DEVICE) -> list[Envelope]:
    out: list[Envelope] = []
    prev = None
    for seq in range(1, n + 1):
        rec = new_record("checkin", {"n": seq, "score": 0.61}, device=device, seq=seq, prev=prev)
        env = sign_record(rec, key)
        out.append(env)
        prev = env.digest()
    return out


# --- RFC 8785 -----------------------------------------------------------------------------


def test_canonical_json_rfc8785_section_3_2_2_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_canonical_json_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: the emoji (surrogate pair D83D) sorts before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("bits", "text"),
    [  # RFC 8785 Appendix B
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7FEFFFFFFFFFFFFF, "1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44B52D02C7E14AF5, "9.999999999999997e+22"),
        (0x44B52D02C7E14AF6, "1e+23"),
        (0x444B1AE4D6E2EF4F, "999999999999999900000"),
        (0x444B1AE4D6E2EF50, "1e+21"),
        (0x3EB0C6F7A0B5ED8C, "9.999999999999997e-7"),
        (0x3EB0C6F7A0B5ED8D, "0.000001"),
        (0x41B3DE4355555553, "333333333.3333332"),
        (0xBECBF647612F3696, "-0.0000033333333333333333"),
        (0x43143FF3C1CB0959, "1424953923781206.2"),
    ],
)
def test_canonical_json_numbers_rfc8785_appendix_b(bits: int, text: str) -> None:
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    assert canonical_json([value]) == f"[{text}]".encode()


def test_canonical_json_small_numbers_and_unicode() -> None:
    assert canonical_json({"b": 0.1, "a": 1e21, "c": 1.0, "d": "Ӛ"}) == (
        '{"a":1e+21,"b":0.1,"c":1,"d":"Ӛ"}'.encode()
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, {1: "x"}, b"bytes"])
def test_canonical_json_refuses_non_ijson_values(bad: object) -> None:
    with pytest.raises(RecordFormatError):
        canonical_json({"x": bad})


# --- ids, round trip ------------------------------------------------------------------------


def test_uuid7_is_version_7_and_increasing() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(i[14] == "7" and i[19] in "89ab" for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_envelope_round_trip_is_byte_identical() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_record(
        new_record(
            "override", {"note": "Документ проверен", "x": 0.1}, device=DEVICE, seq=1, prev=None
        ),
        key,
    )
    parsed = Envelope.from_dict(json.loads(env.canonical()))
    assert parsed == env
    assert parsed.canonical() == env.canonical()
    assert parsed.digest() == env.digest()
    assert set(parsed.to_dict()) == {"record", "sig"}
    assert set(parsed.record.to_dict()) == {
        "v",
        "type",
        "id",
        "device",
        "seq",
        "ts",
        "prev",
        "body",
    }
    verify_envelope(parsed, key.public_key())


def test_timestamp_is_utc_millis_with_z() -> None:
    rec = new_record("session_open", {}, device=DEVICE, seq=1, prev=None)
    assert len(rec.ts) == 24 and rec.ts.endswith("Z") and rec.ts[19] == "."


# --- strict parsing --------------------------------------------------------------------------


def _good() -> dict:
    key = Ed25519PrivateKey.generate()
    env = sign_record(new_record("checkin", {"a": 1}, device=DEVICE, seq=2, prev="ab" * 32), key)
    return json.loads(env.canonical())


def _without(path: str):
    def mutate(d: dict) -> None:
        *parents, last = path.split(".")
        target = d
        for p in parents:
            target = target[p]
        del target[last]

    return mutate


def _set(path: str, value: object):
    def mutate(d: dict) -> None:
        *parents, last = path.split(".")
        target = d
        for p in parents:
            target = target[p]
        target[last] = value

    return mutate


MALFORMED = {
    "missing sig": (_without("sig"), "missing field(s): sig"),
    "missing seq": (_without("record.seq"), "missing field(s): seq"),
    "missing body": (_without("record.body"), "missing field(s): body"),
    "extra envelope field": (_set("extra", 1), "unknown field(s): extra"),
    "extra record field": (_set("record.note", "x"), "unknown field(s): note"),
    "v as string": (_set("record.v", "1"), "unsupported record version"),
    "v 2": (_set("record.v", 2), "unsupported record version"),
    "unknown type": (_set("record.type", "login"), "unknown record type"),
    "uuid4 id": (_set("record.id", "9b2f6f5e-8d6a-4f4c-9a55-2f1d0c9f7e11"), "bad record id"),
    "uppercase id": (_set("record.id", "01890A5D-AC96-774B-BCCE-B302099A8057"), "bad record id"),
    "garbage id": (_set("record.id", "not-a-uuid"), "bad record id"),
    "seq bool": (_set("record.seq", True), "bad seq"),
    "seq zero": (_set("record.seq", 0), "bad seq"),
    "seq float": (_set("record.seq", 2.0), "bad seq"),
    "ts offset": (_set("record.ts", "2025-01-01T10:00:00.000+00:00"), "bad ts"),
    "ts no millis": (_set("record.ts", "2025-01-01T10:00:00Z"), "bad ts"),
    "ts impossible date": (_set("record.ts", "2025-02-30T10:00:00.000Z"), "not a real date"),
    "prev short": (_set("record.prev", "abc"), "bad prev"),
    "prev uppercase": (_set("record.prev", "AB" * 32), "bad prev"),
    "body list": (_set("record.body", []), "bad body"),
    "device empty": (_set("record.device", ""), "bad device id"),
    "sig not base64": (_set("sig", "!!!"), "bad sig"),
    "sig short": (_set("sig", "AAAA"), "bad sig"),
    "sig number": (_set("sig", 5), "bad sig"),
    "record not object": (_set("record", "x"), "record must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_from_dict_rejects_malformed(case: str) -> None:
    mutate, message = MALFORMED[case]
    d = _good()
    Envelope.from_dict(copy.deepcopy(d))  # the unmutated one parses
    mutate(d)
    with pytest.raises(RecordFormatError, match=re.escape(message)):
        Envelope.from_dict(d)


def test_record_types_are_the_architecture_list() -> None:
    assert RECORD_TYPES == (
        "checkin", "override", "session_open", "session_close",
        "roster_loaded", "calibration", "device_event",
    )  # fmt: skip


# --- signatures and chains -------------------------------------------------------------------


def test_verify_envelope_rejects_other_key_and_edit() -> None:
    key = Ed25519PrivateKey.generate()
    env = _chain(key, 1)[0]
    with pytest.raises(SignatureInvalid):
        verify_envelope(env, Ed25519PrivateKey.generate().public_key())
    d = json.loads(env.canonical())
    d["record"]["body"]["score"] = 0.99
    with pytest.raises(SignatureInvalid, match="seq 1"):
        verify_envelope(Envelope.from_dict(d), key.public_key())


def test_verify_chain_counts_and_continues_from_a_checkpoint() -> None:
    key = Ed25519PrivateKey.generate()
    envs = _chain(key, 6)
    assert verify_chain(envs, key.public_key()) == 6
    # the centre's per-device continuity check: batch 2 continues batch 1
    assert verify_chain(envs[:3], key.public_key(), device=DEVICE) == 3
    n = verify_chain(envs[3:], key.public_key(), device=DEVICE, expected_seq=4,
                     expected_prev=envs[2].digest())  # fmt: skip
    assert n == 3


def test_verify_chain_names_each_kind_of_tampering() -> None:
    key = Ed25519PrivateKey.generate()
    envs = _chain(key, 5)
    pub = key.public_key()
    ids = [e.record.id for e in envs]

    with pytest.raises(LedgerTampered, match=rf"seq 4 \(id {ids[3]}\): gap: seq 3 missing"):
        verify_chain([envs[0], envs[1], envs[3], envs[4]], pub)
    with pytest.raises(LedgerTampered, match=rf"seq 4 \(id {ids[3]}\): reorder"):
        verify_chain([envs[0], envs[1], envs[3], envs[2], envs[4]], pub)
    with pytest.raises(LedgerTampered, match=r"seq 2 .*reorder or replay"):
        verify_chain([envs[0], envs[1], envs[1]], pub)

    edited = envs[2].to_dict()
    edited["record"]["body"]["score"] = 0.9
    with pytest.raises(LedgerTampered, match=rf"seq 3 \(id {ids[2]}\): bad signature"):
        verify_chain([envs[0], envs[1], Envelope.from_dict(edited), envs[3]], pub)

    other = _chain(Ed25519PrivateKey.generate(), 3, device="kiosk-ffffffffffff")
    with pytest.raises(LedgerTampered, match=r"seq 3 .*foreign device 'kiosk-ffffffffffff'"):
        verify_chain([envs[0], envs[1], other[2]], pub)

    # Re-signed by the same key but linked to the wrong predecessor: broken chain.
    relinked = sign_record(
        new_record("checkin", {}, device=DEVICE, seq=3, prev=envs[0].digest()), key
    )
    with pytest.raises(LedgerTampered, match=r"seq 3 .*broken chain"):
        verify_chain([envs[0], envs[1], relinked], pub)


def test_verify_chain_follows_a_key_rotation() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envs = _chain(old, 2)
    rot = sign_record(
        new_record("device_event", key_rotation_body(old.public_key(), new.public_key(), 4),
                   device=DEVICE, seq=3, prev=envs[-1].digest()),
        old,
    )  # fmt: skip
    after = sign_record(new_record("checkin", {}, device=DEVICE, seq=4, prev=rot.digest()), new)
    assert verify_chain([*envs, rot, after], old.public_key()) == 4
    # a record after the rotation still signed by the old key is refused
    stale = sign_record(new_record("checkin", {}, device=DEVICE, seq=4, prev=rot.digest()), old)
    with pytest.raises(LedgerTampered, match=r"seq 4 .*bad signature"):
        verify_chain([*envs, rot, stale], old.public_key())
