"""A device's signed ledger head: (seq, hash of the last envelope), signed by its key.

The kiosk keeps it outside its ledger (`kiosk.ledger.witness`) and reports it to the
centre at every sync contact (`centre.crud.heads`): the two witnesses of a ledger's end,
which the hash chain itself cannot see. The signed bytes are canonical JSON with a
``kind`` tag, so a head signature can never be replayed as a record's or a request's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.protocol.canonical import canonical_json


@dataclass(frozen=True)
class LedgerHead:
    """The last record a device wrote: its seq and the digest of its envelope."""

    device: str
    seq: int
    hash: str | None  # None only for seq 0 (an empty ledger)

    def payload(self) -> bytes:
        """The bytes the device key signs (canonical JSON, a type tag against reuse)."""
        return canonical_json(
            {"kind": "ledger_head", "device": self.device, "seq": self.seq, "hash": self.hash}
        )


@dataclass(frozen=True)
class SignedHead:
    head: LedgerHead
    sig: str  # base64 Ed25519 signature of head.payload()

    @classmethod
    def sign(cls, head: LedgerHead, key: Ed25519PrivateKey) -> SignedHead:
        return cls(head, base64.b64encode(key.sign(head.payload())).decode("ascii"))

    def to_dict(self) -> dict[str, Any]:
        h = self.head
        return {"device": h.device, "seq": h.seq, "hash": h.hash, "sig": self.sig}

    @classmethod
    def from_dict(cls, d: object) -> SignedHead:
        if not isinstance(d, dict):
            raise ValueError("not an object")
        seq, digest, device, sig = d.get("seq"), d.get("hash"), d.get("device"), d.get("sig")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError("bad seq")
        if not (digest is None or isinstance(digest, str)) or not isinstance(device, str):
            raise ValueError("bad hash or device")
        if not isinstance(sig, str):
            raise ValueError("bad sig")
        return cls(LedgerHead(device, seq, digest), sig)

    def verified_by(self, keys: list[Ed25519PublicKey]) -> bool:
        """True when one of the device's keys (current or retired) signed this head."""
        try:
            raw = base64.b64decode(self.sig, validate=True)
        except (binascii.Error, ValueError):
            return False
        for key in keys:
            with contextlib.suppress(InvalidSignature):
                key.verify(raw, self.head.payload())
                return True
        return False


__all__ = ["LedgerHead", "SignedHead"]
