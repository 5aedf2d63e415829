"""Roster documents: the centre-signed list of applicants booked into one exam session.

Why signed: the roster decides whose face opens the door, so a roster edited on the kiosk
(to add a stand-in's template) must be refused. The centre signs the canonical JSON of
the roster document with its Ed25519 key, which the kiosk pins once. A strictly
increasing ``version`` per room stops an old roster being replayed (`check_not_rollback`,
the one anti-rollback rule), and ``expires_at`` stops a stale one being used.

Wire format (canonical JSON inside a signed envelope)::

    {"roster": {"v":1,"roster_id":…,"version":n,"issued_at":…,"expires_at":…,
                "session":{"session_id","centre","room","kind","starts_at","ends_at"},
                "applicants":[{"applicant_id","iin","name","seat","booking_code",
                               "templates":[{"pack":…,"vector":base64(float32 LE)}],
                               "photo":base64(JPEG), optional}]},
     "sig": base64(Ed25519 over canonical_json(roster)),
     "key_id": hex sha256(raw centre public key)[:16]}

This module is stdlib-only (vectors are checked with `struct`), so the centre can sign
and check rosters without numpy; the kiosk turns `RosterDocument` into its numpy model.

The optional ``photo`` is the booking photo the proctor compares with the person at the
door before overriding a refusal. It is signed with the rest (a swapped photo would let a
stand-in talk the proctor round), and bounded (`kiosk.protocol.photo`) so a
roster cannot smuggle a large image into the kiosk's memory or its decoder.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.protocol.bounded_json import loads_bounded
from kiosk.protocol.canonical import canonical_json, format_ts, parse_ts
from kiosk.protocol.errors import (
    ProtocolError,
    RosterError,
    RosterExpired,
    RosterRollback,
    RosterSignatureInvalid,
)
from kiosk.protocol.iin import validate_iin
from kiosk.protocol.keys import key_id
from kiosk.protocol.photo import check_photo

ROSTER_VERSION = 1
SESSION_KINDS = ("theory", "practical")
_NORM_TOLERANCE = 1e-3
_ROSTER_KEYS = {"v", "roster_id", "version", "issued_at", "expires_at", "session", "applicants"}
_SESSION_KEYS = {"session_id", "centre", "room", "kind", "starts_at", "ends_at"}
_APPLICANT_KEYS = {"applicant_id", "iin", "name", "seat", "booking_code", "templates"}
_APPLICANT_OPTIONAL = frozenset({"photo"})
_TEMPLATE_KEYS = {"pack", "vector"}
_SIGNED_KEYS = {"roster", "sig", "key_id"}


def normalise_booking_code(code: str) -> str:
    """Booking codes are typed by people: ignore case, spaces and dashes."""
    return re.sub(r"[\s-]", "", code).upper()


@dataclass(frozen=True)
class TemplateDoc:
    """One enrolment template on the wire: little-endian float32 bytes, L2-normalised."""

    pack: str
    vector: bytes

    @property
    def dims(self) -> int:
        return len(self.vector) // 4

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "vector": base64.b64encode(self.vector).decode("ascii")}


@dataclass(frozen=True)
class SessionDoc:
    session_id: str
    centre: str
    room: str
    kind: str
    starts_at: datetime
    ends_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "centre": self.centre,
            "room": self.room,
            "kind": self.kind,
            "starts_at": format_ts(self.starts_at),
            "ends_at": format_ts(self.ends_at),
        }


@dataclass(frozen=True)
class ApplicantDoc:
    applicant_id: str
    iin: str
    name: str
    seat: str
    booking_code: str
    templates: tuple[TemplateDoc, ...]
    photo: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "applicant_id": self.applicant_id,
            "iin": self.iin,
            "name": self.name,
            "seat": self.seat,
            "booking_code": self.booking_code,
            "templates": [t.to_dict() for t in self.templates],
        }
        if self.photo is not None:  # absent, not null: rosters without photos sign as before
            out["photo"] = base64.b64encode(self.photo).decode("ascii")
        return out


@dataclass(frozen=True)
class RosterDocument:
    """The unsigned roster document, strictly parsed (what the centre signs)."""

    roster_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    session: SessionDoc
    applicants: tuple[ApplicantDoc, ...]

    @property
    def room_key(self) -> str:
        """What anti-rollback versions are kept per: centre and room."""
        return f"{self.session.centre}/{self.session.room}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": ROSTER_VERSION,
            "roster_id": self.roster_id,
            "version": self.version,
            "issued_at": format_ts(self.issued_at),
            "expires_at": format_ts(self.expires_at),
            "session": self.session.to_dict(),
            "applicants": [a.to_dict() for a in self.applicants],
        }

    @classmethod
    def from_dict(cls, doc: object) -> RosterDocument:
        """Strictly parse a roster document; RosterError names the problem."""
        return _roster(doc)


# --- strict parsing ------------------------------------------------------------------------


def _obj(
    value: object, keys: set[str], where: str, optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RosterError(f"{where} must be an object")
    missing, extra = sorted(keys - set(value)), sorted(set(value) - keys - optional)
    if missing:
        raise RosterError(f"{where} is missing field(s): {', '.join(missing)}")
    if extra:
        raise RosterError(f"{where} has unknown field(s): {', '.join(extra)}")
    return value


def _text(d: dict[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = d[key]
    if not isinstance(value, str) or (not allow_empty and not value.strip()) or len(value) > 256:
        raise RosterError(f"{where}: {key} must be a non-empty string of at most 256 characters")
    return value


def _time(d: dict[str, Any], key: str, where: str) -> datetime:
    try:
        return parse_ts(d[key])
    except ProtocolError as exc:
        raise RosterError(f"{where}: {key}: {exc}") from None


def check_vector(text: object, where: str) -> bytes:
    """The float32 bytes of a base64 template vector: finite and L2-normalised."""
    if not isinstance(text, str):
        raise RosterError(f"{where}: vector must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RosterError(f"{where}: vector is not valid base64") from None
    if not raw or len(raw) % 4:
        raise RosterError(f"{where}: vector is not a whole number of float32 values")
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    if not all(math.isfinite(v) for v in values):
        raise RosterError(f"{where}: vector has NaN or infinite values")
    norm = math.sqrt(math.fsum(v * v for v in values))
    if abs(norm - 1.0) > _NORM_TOLERANCE:
        raise RosterError(f"{where}: vector is not L2-normalised (norm {norm:.4f})")
    return raw


def _template(t: object, where: str, dims: dict[str, int]) -> TemplateDoc:
    t = _obj(t, _TEMPLATE_KEYS, where)
    pack = _text(t, "pack", where)
    template = TemplateDoc(pack, check_vector(t["vector"], where))
    if dims.setdefault(pack, template.dims) != template.dims:
        raise RosterError(f"{where}: pack {pack} vectors must all have {dims[pack]} values")
    return template


def _applicant(a: object, i: int, dims: dict[str, int]) -> ApplicantDoc:
    where = f"applicant #{i + 1}"
    a = _obj(a, _APPLICANT_KEYS, where, _APPLICANT_OPTIONAL)
    applicant_id = _text(a, "applicant_id", where)
    where = f"applicant {applicant_id}"
    try:
        validate_iin(a["iin"])
    except RosterError as exc:
        raise RosterError(f"{where}: {exc}") from None
    if not isinstance(a["templates"], list):
        raise RosterError(f"{where}: templates must be a list")
    templates = tuple(
        _template(t, f"{where} template #{j + 1}", dims) for j, t in enumerate(a["templates"])
    )
    return ApplicantDoc(
        applicant_id=applicant_id,
        iin=a["iin"],
        name=_text(a, "name", where),
        seat=_text(a, "seat", where, allow_empty=True),
        booking_code=_text(a, "booking_code", where),
        templates=templates,
        photo=check_photo(a["photo"], where) if "photo" in a else None,
    )


def _no_duplicates(applicants: tuple[ApplicantDoc, ...]) -> None:
    for what, get in (
        ("applicant_id", lambda a: a.applicant_id),
        ("IIN", lambda a: a.iin),
        ("booking code", lambda a: normalise_booking_code(a.booking_code)),
        ("seat", lambda a: a.seat or None),
    ):
        seen: set[str] = set()
        for a in applicants:
            value = get(a)
            if value is None:
                continue
            if value in seen:
                raise RosterError(f"applicant {a.applicant_id}: duplicate {what} in roster")
            seen.add(value)


def _roster(doc: object) -> RosterDocument:
    d = _obj(doc, _ROSTER_KEYS, "roster")
    if d["v"] != ROSTER_VERSION or isinstance(d["v"], bool):
        raise RosterError(f"unsupported roster format v={d['v']!r}")
    version = d["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RosterError("roster version must be an integer >= 1")
    issued, expires = _time(d, "issued_at", "roster"), _time(d, "expires_at", "roster")
    if expires <= issued:
        raise RosterError("roster expires_at must be after issued_at")
    s = _obj(d["session"], _SESSION_KEYS, "roster session")
    if s["kind"] not in SESSION_KINDS:
        raise RosterError(f"session kind must be theory or practical, got {s['kind']!r}")
    session = SessionDoc(
        session_id=_text(s, "session_id", "session"),
        centre=_text(s, "centre", "session"),
        room=_text(s, "room", "session"),
        kind=s["kind"],
        starts_at=_time(s, "starts_at", "session"),
        ends_at=_time(s, "ends_at", "session"),
    )
    if session.ends_at <= session.starts_at:
        raise RosterError("session ends_at must be after starts_at")
    if not isinstance(d["applicants"], list):
        raise RosterError("roster applicants must be a list")
    dims: dict[str, int] = {}
    applicants = tuple(_applicant(a, i, dims) for i, a in enumerate(d["applicants"]))
    _no_duplicates(applicants)
    return RosterDocument(
        roster_id=_text(d, "roster_id", "roster"),
        version=version,
        issued_at=issued,
        expires_at=expires,
        session=session,
        applicants=applicants,
    )


# --- signing, verifying, anti-rollback --------------------------------------------------------


def sign_roster_document(doc: object, centre_private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed envelope the centre publishes; refuses to sign an invalid roster."""
    parsed = RosterDocument.from_dict(doc)  # never sign what a kiosk would refuse
    payload = parsed.to_dict()
    sig = centre_private_key.sign(canonical_json(payload))
    return {
        "roster": payload,
        "sig": base64.b64encode(sig).decode("ascii"),
        "key_id": key_id(centre_private_key.public_key()),
    }


def check_not_rollback(roster_id: str, version: int, accepted: int, room_key: str) -> None:
    """The anti-rollback rule: a roster must be newer than the version accepted for its room."""
    if version <= accepted:
        raise RosterRollback(
            f"roster {roster_id} version {version} is not newer than the "
            f"accepted version {accepted} for {room_key}"
        )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise RosterError(f"roster JSON has a duplicate key {k!r}")
        out[k] = v
    return out


def load_roster_json(data: bytes | str) -> dict[str, Any]:
    """Parse roster JSON, refusing duplicate keys (a classic signed-JSON ambiguity)."""
    try:
        doc = loads_bounded(data, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, RosterError):
            raise
        raise RosterError(f"roster is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RosterError("roster must be a JSON object")
    return doc


def verify_signed_roster(
    doc: dict[str, Any] | bytes | str,
    centre_public_key: Ed25519PublicKey,
    *,
    now: datetime,
    min_version: int = 0,
    room_key: str | None = None,
) -> RosterDocument:
    """Verify and parse a signed roster; the signature is checked before anything is used.

    Raises RosterSignatureInvalid (unsigned, wrong key, edited), RosterError (malformed),
    RosterRollback (version <= `min_version`) or RosterExpired (`now` >= expires_at).
    """
    if not isinstance(doc, dict):
        doc = load_roster_json(doc)
    if "sig" not in doc:
        if "roster" in doc or "roster_id" in doc:
            raise RosterSignatureInvalid("roster is not signed by the centre")
        raise RosterError("not a signed roster document")
    doc = _obj(doc, _SIGNED_KEYS, "signed roster")
    pinned = key_id(centre_public_key)
    if doc["key_id"] != pinned:
        raise RosterSignatureInvalid(
            f"roster is signed by key {doc['key_id']!r}, not the pinned centre key {pinned}"
        )
    try:
        sig = base64.b64decode(doc["sig"], validate=True)
        payload = canonical_json(doc["roster"])
        centre_public_key.verify(sig, payload)
    except (InvalidSignature, binascii.Error, ValueError, TypeError, ProtocolError):
        raise RosterSignatureInvalid(
            "roster signature does not verify: it was edited or signed by another key"
        ) from None
    roster = RosterDocument.from_dict(doc["roster"])
    check_not_rollback(roster.roster_id, roster.version, min_version, room_key or roster.room_key)
    if now >= roster.expires_at:
        raise RosterExpired(f"roster {roster.roster_id} expired at {format_ts(roster.expires_at)}")
    return roster


__all__ = [
    "ROSTER_VERSION",
    "SESSION_KINDS",
    "ApplicantDoc",
    "RosterDocument",
    "SessionDoc",
    "TemplateDoc",
    "check_not_rollback",
    "check_vector",
    "load_roster_json",
    "normalise_booking_code",
    "sign_roster_document",
    "verify_signed_roster",
]
