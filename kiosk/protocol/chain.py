"""The hash chain rules, written once: signatures, device, seq, prev, key rotation.

`ChainVerifier` is used by the kiosk (`kiosk ledger verify`, strict: any gap, reorder or
broken link is tampering) and by the centre's ingest (``allow_gaps=True``: records arrive
in batches and may be missing in between, so a record after a gap is still authenticated
with the key in force at its seq, and reported as not linked instead of refused).

Key rotation is carried by the chain itself: a ``device_event`` record with
``body.event == "key_rotated"``, signed by the old key, names the new public key and the
seq from which it signs. The verifier follows it, so it only needs the key the chain
started with (or the key history the centre has learned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.protocol.bodies import KEY_ROTATED_EVENT, KeyRotatedBody
from kiosk.protocol.envelope import Envelope, verify_envelope
from kiosk.protocol.errors import LedgerTampered, ProtocolError, SignatureInvalid
from kiosk.protocol.keys import load_public_key_b64, public_key_b64

_PeekFn = Callable[[], Envelope | None]  # the next envelope, without consuming it


def key_rotation_body(
    old_public_key: Ed25519PublicKey, new_public_key: Ed25519PublicKey, effective_seq: int
) -> dict[str, Any]:
    """Body of the ``device_event`` that hands signing to `new_public_key` from `effective_seq`."""
    return KeyRotatedBody(
        event=KEY_ROTATED_EVENT,
        old_public_key=public_key_b64(old_public_key),
        new_public_key=public_key_b64(new_public_key),
        effective_seq=effective_seq,
    ).to_dict()


@dataclass(frozen=True)
class KeyRotation:
    """A rotation seen in a verified chain: `public_key_b64` signs from `from_seq` on."""

    from_seq: int
    public_key_b64: str
    record_id: str


class KeyHistory:
    """Which device key signs which seq: [(from_seq, public key b64)], oldest first."""

    def __init__(self, epochs: list[tuple[int, str]]) -> None:
        self.epochs = sorted(epochs)
        self._loaded: dict[str, Ed25519PublicKey] = {}

    def key_for(self, seq: int) -> str:
        key = self.epochs[0][1]
        for from_seq, k in self.epochs:
            if from_seq <= seq:
                key = k
        return key

    def add(self, from_seq: int, key_b64: str) -> None:
        if (from_seq, key_b64) not in self.epochs:
            self.epochs = sorted([*self.epochs, (from_seq, key_b64)])

    def all_keys(self) -> list[str]:
        """Newest first."""
        return [k for _, k in reversed(self.epochs)]

    def load(self, key_b64: str) -> Ed25519PublicKey:
        """The parsed key, cached (parsing is per record otherwise)."""
        key = self._loaded.get(key_b64)
        if key is None:
            key = self._loaded[key_b64] = load_public_key_b64(key_b64)
        return key


def rotation_of(env: Envelope, signing_key_b64: str) -> KeyRotation | None:
    """The hand-over `env` makes, None if it is not a ``key_rotated`` record.

    A rotation record that is malformed, names another old key or does not take effect
    at the next seq raises LedgerTampered naming the problem (the kiosk refuses such a
    chain; the centre stores the record but does not follow the rotation).
    """
    rec = env.record
    if rec.type != "device_event" or rec.body.get("event") != KEY_ROTATED_EVENT:
        return None
    where = f"record seq {rec.seq} (id {rec.id})"
    try:
        body = KeyRotatedBody.from_dict(rec.body)
        load_public_key_b64(body.new_public_key)
    except ProtocolError:
        raise LedgerTampered(f"{where}: key rotation names an unreadable new public key") from None
    if body.effective_seq != rec.seq + 1:
        raise LedgerTampered(f"{where}: key rotation must take effect at the next seq")
    if body.old_public_key != signing_key_b64:
        raise LedgerTampered(f"{where}: key rotation names a different old key")
    return KeyRotation(rec.seq + 1, body.new_public_key, rec.id)


class ChainVerifier:
    """Incremental chain check, for callers that verify in batches and keep state between them.

    Strict (default): every record must be the next seq, link by ``prev`` to the one
    before and be signed by the key in force; the first failure raises LedgerTampered.
    ``allow_gaps=True`` (the centre): every record must still be authentic (device, and the
    signature of the key in force at its seq, rotations followed), but a missing stretch,
    a repeat or a late record is not an error: `check` answers whether the record links to
    the one before it, and a malformed rotation is not followed instead of being refused.
    """

    def __init__(
        self,
        keys: Ed25519PublicKey | KeyHistory,
        *,
        device: str | None = None,
        expected_seq: int = 1,
        expected_prev: str | None = None,
        allow_gaps: bool = False,
    ) -> None:
        if isinstance(keys, KeyHistory):
            self.keys = keys
        else:
            self.keys = KeyHistory([(expected_seq, public_key_b64(keys))])
            self.keys._loaded[self.keys.epochs[0][1]] = keys
        self.device = device
        self.next_seq = expected_seq
        self.prev = expected_prev
        self.allow_gaps = allow_gaps
        self.count = 0
        self.rotations: list[KeyRotation] = []

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key in force after the records verified so far."""
        return self.keys.load(self.keys.epochs[-1][1])

    def verify(self, envelopes: Iterable[Envelope]) -> int:
        """Verify envelopes in order; return how many passed, or raise LedgerTampered."""
        it = _Peekable(iter(envelopes))
        start = self.count
        for env in it:
            self.check(env, it.peek)
        return self.count - start

    def check(self, env: Envelope, peek: _PeekFn | None = None) -> bool:
        """Verify one envelope; True if it links to the record before it.

        Strict mode returns True or raises; gap-tolerant mode may return False.
        """
        r = env.record
        if self.device is None:
            self.device = r.device
        elif r.device != self.device:
            raise _fail(env, f"foreign device {r.device!r}, expected {self.device!r}")
        in_order = r.seq == self.next_seq
        if not in_order and not self.allow_gaps:
            raise _fail(env, self._seq_problem(r.seq, peek))
        signer = self.keys.key_for(r.seq)
        try:
            verify_envelope(env, self.keys.load(signer))
        except SignatureInvalid:
            raise _fail(env, "bad signature (record edited or signed by another key)") from None
        linked = in_order and r.prev == self.prev
        if in_order and not linked and not self.allow_gaps:
            raise _fail(
                env,
                f"broken chain: prev {r.prev} does not match the digest of "
                f"seq {r.seq - 1} ({self.prev})",
            )
        self._follow_rotation(env, signer)
        if r.seq >= self.next_seq:  # a late or repeated record does not move the chain back
            self.prev = env.digest()
            self.next_seq = r.seq + 1
        self.count += 1
        return linked

    def _follow_rotation(self, env: Envelope, signer: str) -> None:
        try:
            rotation = rotation_of(env, signer)
        except LedgerTampered:
            if self.allow_gaps:
                return  # authentic but not a valid hand-over: stored, not followed
            raise
        if rotation is not None:
            self.keys.add(rotation.from_seq, rotation.public_key_b64)
            self.rotations.append(rotation)

    def _seq_problem(self, seq: int, peek: _PeekFn | None) -> str:
        expected = self.next_seq
        if seq < expected:
            return f"reorder or replay: seq {seq} appears after seq {expected - 1}"
        nxt = peek() if peek is not None else None
        if nxt is not None and nxt.record.seq == expected:
            return f"reorder: found seq {seq} where seq {expected} was expected"
        missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
        return f"gap: {missing} missing"


def _fail(env: Envelope, what: str) -> LedgerTampered:
    r = env.record
    return LedgerTampered(f"record seq {r.seq} (id {r.id}): {what}")


class _Peekable:
    """One-item lookahead, so a swapped pair is reported as a reorder, not a gap."""

    def __init__(self, it: Iterator[Envelope]) -> None:
        self._it = it
        self._buf: list[Envelope] = []

    def __iter__(self) -> _Peekable:
        return self

    def __next__(self) -> Envelope:
        if self._buf:
            return self._buf.pop()
        return next(self._it)

    def peek(self) -> Envelope | None:
        if not self._buf:
            try:
                self._buf.append(next(self._it))
            except StopIteration:
                return None
        return self._buf[0]


def verify_chain(
    envelopes: Iterable[Envelope],
    public_key: Ed25519PublicKey,
    *,
    device: str | None = None,
    expected_seq: int = 1,
    expected_prev: str | None = None,
) -> int:
    """Strictly check signatures, device id, gap-free seq and prev linkage; return the count.

    Raises LedgerTampered naming the first bad record (seq and id) and what is wrong:
    foreign device, gap, reorder/replay, bad signature or broken chain. `public_key` is
    the key in force at `expected_seq`; key-rotation records in the chain are followed.
    With `device=None` the first record's device is expected throughout.
    """
    verifier = ChainVerifier(
        public_key, device=device, expected_seq=expected_seq, expected_prev=expected_prev
    )
    return verifier.verify(envelopes)


__all__ = [
    "ChainVerifier",
    "KeyHistory",
    "KeyRotation",
    "key_rotation_body",
    "rotation_of",
    "verify_chain",
]
