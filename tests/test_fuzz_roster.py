"""Property tests for signed roster parsing: whatever arrives (from the network, a USB
stick, or a buggy centre that signs garbage), `parse_signed_roster` either returns a
roster or raises a `RosterError` subclass: never another exception, never a roster from
a document the pinned key did not sign."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fuzz_budget import fuzz, json_paths, json_replace
from hypothesis import given
from hypothesis import strategies as st

from kiosk.checkin.roster import (
    BookedApplicant,
    ExamSession,
    Roster,
    Template,
    make_iin,
    parse_signed_roster,
    roster_to_document,
    sign_roster,
)
from kiosk.errors import RecordFormatError, RosterError
from kiosk.protocol.canonical import canonical_json
from kiosk.protocol.keys import key_id
from kiosk.protocol.photo import check_photo, jpeg_size

FUZZ = fuzz(150)
NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
CENTRE = Ed25519PrivateKey.generate()
PUB = CENTRE.public_key()


def _iin(birth: date, digit: int, serial: int) -> str:
    while True:
        try:
            return make_iin(birth, digit, serial)
        except ValueError:
            serial += 1


def _roster() -> Roster:
    rng = np.random.default_rng(3)
    applicants = []
    for i in range(2):
        v = rng.normal(size=8).astype(np.float32)
        applicants.append(
            BookedApplicant(
                applicant_id=f"APP-{i}",
                iin=_iin(date(1990 + i, 3, 14), 3, 100 + i),
                name=f"Applicant {i}",
                seat=f"{i + 1:02d}",
                booking_code=f"BK-{1000 + i}",
                templates=[Template("pack-a", v / np.linalg.norm(v))],
            )
        )
    session = ExamSession(
        "SES-1", "ALA-01", "101", "theory", NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    )
    return Roster("R-1", 3, NOW, NOW + timedelta(hours=12), session, applicants)


SIGNED = sign_roster(_roster(), CENTRE)
DOC = roster_to_document(_roster())

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=16)
    | st.sampled_from(["2025-06-01T09:00:00.000Z", "880101300010", "theory", "AAAA", ""])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _parse(doc: Any) -> Any:
    try:
        return parse_signed_roster(doc, PUB, now=NOW)
    except RosterError:
        return None


@FUZZ
@given(values)
def test_arbitrary_documents_raise_only_roster_errors(doc: Any) -> None:
    if isinstance(doc, dict | str | bytes):
        assert _parse(doc) is None


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_raise_only_roster_errors(blob: bytes | str) -> None:
    assert _parse(blob) is None


@FUZZ
@given(st.data())
def test_a_mutated_signed_roster_is_never_accepted(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(json_paths(SIGNED)[1:]), label="path")
    value = data.draw(values, label="value")
    mutated = json_replace(SIGNED, path, value)
    roster = _parse(mutated)
    if roster is not None:  # only a mutation that denotes the same signed bytes may pass
        assert canonical_json(mutated["roster"]) == canonical_json(SIGNED["roster"])
        assert mutated["sig"] == SIGNED["sig"]


@FUZZ
@given(st.data())
def test_signed_garbage_content_raises_only_roster_errors(data: st.DataObject) -> None:
    """Past the signature: the content parser must be strict on its own (a buggy or
    compromised centre signs what it is given)."""
    path = data.draw(st.sampled_from(json_paths(DOC)[1:]), label="path")
    value = data.draw(values, label="value")
    content = json_replace(DOC, path, value)
    try:
        payload = canonical_json(content)
    except RecordFormatError:
        return  # not signable JSON (NaN, huge ints): cannot come from a centre
    doc = {
        "roster": json.loads(payload),
        "sig": base64.b64encode(CENTRE.sign(payload)).decode(),
        "key_id": key_id(PUB),
    }
    _parse(doc)


def test_the_unmutated_roster_parses() -> None:
    assert _parse(SIGNED) is not None


@fuzz(300)
@given(
    header=st.sampled_from([b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xc0\x00\x11\x08"]),
    body=st.binary(max_size=64),
)
def test_any_photo_bytes_give_a_size_or_one_roster_error(header: bytes, body: bytes) -> None:
    """The booking-photo header reader never crashes on cut or garbled JPEG segments."""
    data = header + body
    size = jpeg_size(data)
    assert size is None or (len(size) == 2 and all(0 <= n <= 0xFFFF for n in size))
    try:
        assert check_photo(base64.b64encode(data).decode("ascii"), "p") == data
    except RosterError as exc:
        assert str(exc).startswith("p: photo ")
