"""Property tests for the record format: canonical JSON and strict envelope parsing.

The ledger and the centre trust `canonical_json` and `Envelope.from_dict` with attacker-
shaped input (a kiosk's disk, an HTTP body). These properties must hold for any input:
canonical bytes are a function of the value alone; parsing refuses with RecordFormatError
and nothing else; and no mutation of a signed envelope verifies unless it denotes the very
same record.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fuzz_budget import fuzz, json_paths, json_replace
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import RecordFormatError, SignatureInvalid
from kiosk.protocol.bodies import parse_body
from kiosk.protocol.canonical import canonical_json
from kiosk.protocol.envelope import RECORD_TYPES, Envelope, new_record, sign_record, verify_envelope
from kiosk.protocol.errors import BodyFormatError

FUZZ = fuzz(150)

SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
# Floats of magnitude >= 2**53 are left out here: see the xfail test at the end (found by
# this file: such a float signs, but its canonical form parses back as an unsafe integer).
SAFE_FLOAT = st.floats(
    min_value=-(2.0**53) + 1, max_value=2.0**53 - 1, allow_nan=False, allow_infinity=False
)
json_scalars = st.none() | st.booleans() | SAFE_INT | SAFE_FLOAT | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# What json.loads can hand a parser: also huge integers, NaN and infinities.
wild_scalars = json_scalars | st.integers() | st.floats()
wild_values = st.recursive(
    wild_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key()
VALID = sign_record(
    new_record(
        "checkin",
        {"applicant_id": "A-1", "decision": "accepted", "score": 0.61, "quality": {"overall": 81}},
        device="kiosk-0123456789ab",
        seq=7,
        prev="ab" * 32,
    ),
    KEY,
)


@FUZZ
@given(json_values)
def test_canonical_json_round_trips_and_is_idempotent(value: Any) -> None:
    data = canonical_json(value)
    parsed = json.loads(data)
    assert parsed == value
    assert canonical_json(parsed) == data


@FUZZ
@given(st.dictionaries(st.text(max_size=8), json_values, min_size=2, max_size=8), st.randoms())
def test_canonical_json_ignores_key_order(value: dict[str, Any], rnd: Any) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(value)


@FUZZ
@given(wild_values)
def test_canonical_json_refuses_only_with_record_format_error(value: Any) -> None:
    with contextlib.suppress(RecordFormatError):
        canonical_json(value)


@FUZZ
@given(wild_values)
def test_envelope_from_arbitrary_json_raises_only_record_format_error(value: Any) -> None:
    with contextlib.suppress(RecordFormatError):
        Envelope.from_dict(value)


def _never_verifies_unless_identical(doc: Any) -> None:
    try:
        env = Envelope.from_dict(doc)
    except RecordFormatError:
        return
    same = env.record.canonical() == VALID.record.canonical() and env.sig == VALID.sig
    if same:
        verify_envelope(env, PUB)
        return
    with pytest.raises(SignatureInvalid):
        verify_envelope(env, PUB)


@FUZZ
@given(st.data())
def test_a_mutated_envelope_never_verifies(data: st.DataObject) -> None:
    original = VALID.to_dict()
    path = data.draw(st.sampled_from(json_paths(original)[1:]), label="path")
    value = data.draw(wild_values, label="value")
    _never_verifies_unless_identical(json_replace(original, path, value))


@FUZZ
@given(st.data())
def test_a_byte_flipped_envelope_never_verifies(data: st.DataObject) -> None:
    raw = bytearray(VALID.canonical())
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]), label="byte")
    try:
        doc = json.loads(bytes(raw))
    except (ValueError, UnicodeDecodeError):
        return
    _never_verifies_unless_identical(doc)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_any_json_body_signs_and_verifies(body: dict[str, Any]) -> None:
    env = sign_record(new_record("device_event", body, device="kiosk-x", seq=1, prev=None), KEY)
    again = Envelope.from_dict(json.loads(env.canonical()))
    verify_envelope(again, PUB)
    assert again.digest() == env.digest()


def test_a_number_json_cannot_carry_exactly_is_refused_before_it_is_stored(
    tmp_path: Path,
) -> None:
    """2**53 would sign, but read back as a different number and never verify again: the
    ledger refuses it up front and stores nothing."""
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore

    with LedgerStore(tmp_path / "l.sqlite", DeviceKeys.load_or_create(tmp_path)) as store:
        with pytest.raises(RecordFormatError, match=r"beyond the range JSON can carry"):
            store.append("checkin", {"score": 2.0**53})
        assert store.verify() == 0
        assert store.pending(10) == []


@FUZZ
@given(st.sampled_from(RECORD_TYPES), wild_values)
def test_a_body_from_arbitrary_json_is_refused_only_with_body_format_error(
    rtype: str, value: Any
) -> None:
    try:
        body = parse_body(rtype, value)
    except BodyFormatError:
        return
    assert body.to_dict() == value  # anything accepted reads back to the same dict
