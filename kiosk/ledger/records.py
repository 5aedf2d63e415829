"""Moved to `kiosk.protocol` (envelope, canonical, chain, keys): the record format is the
wire contract, shared with the centre. These names stay importable from here because
many kiosk modules and tests use them and some of those files belong to other work in
flight (`kiosk/ledger/keys.py` imports `public_key_b64` from here); import from
`kiosk.protocol.*` in new code.
"""

from __future__ import annotations

from kiosk.protocol.bodies import KEY_ROTATED_EVENT
from kiosk.protocol.canonical import (
    canonical_json,
    format_ts,
    is_uuid7,
    now_ts,
    parse_ts,
    uuid7,
)
from kiosk.protocol.chain import (
    ChainVerifier,
    KeyRotation,
    key_rotation_body,
    verify_chain,
)
from kiosk.protocol.envelope import (
    RECORD_TYPES,
    RECORD_VERSION,
    Envelope,
    Record,
    new_record,
    sign_record,
    verify_envelope,
)
from kiosk.protocol.keys import public_key_b64

__all__ = [
    "KEY_ROTATED_EVENT",
    "RECORD_TYPES",
    "RECORD_VERSION",
    "ChainVerifier",
    "Envelope",
    "KeyRotation",
    "Record",
    "canonical_json",
    "format_ts",
    "is_uuid7",
    "key_rotation_body",
    "new_record",
    "now_ts",
    "parse_ts",
    "public_key_b64",
    "sign_record",
    "uuid7",
    "verify_chain",
    "verify_envelope",
]
