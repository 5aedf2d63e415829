"""The session roster: who is booked into this room, signed by the centre.

Why signed: the roster decides whose face opens the door, so a roster edited on the
kiosk (to add a stand-in's template) must be refused. The centre signs the canonical
JSON of the roster document with its Ed25519 key, which the kiosk pins once
(`kiosk.ledger.centre_key_pin.pin_centre_key`). A strictly increasing ``version`` per room stops
an old roster being replayed (`RosterStore` remembers the last accepted version across
restarts), and ``expires_at`` stops a stale one being used.

Wire format (canonical JSON inside a signed envelope)::

    {"roster": {"v":1,"roster_id":…,"version":n,"issued_at":…,"expires_at":…,
                "session":{"session_id","centre","room","kind","starts_at","ends_at"},
                "applicants":[{"applicant_id","iin","name","seat","booking_code",
                               "templates":[{"pack":…,"vector":base64(float32 LE)}]}]},
     "sig": base64(Ed25519 over canonical_json(roster)),
     "key_id": hex sha256(raw centre public key)[:16]}
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.checkin.iin import iin_check_digit, make_iin, mask_iin, validate_iin
from kiosk.errors import (
    KioskError,
    RosterError,
    RosterExpired,
    RosterRollback,
    RosterSignatureInvalid,
    UnknownApplicant,
)
from kiosk.ledger.keys import key_id
from kiosk.ledger.records import canonical_json, format_ts, parse_ts

if TYPE_CHECKING:  # served lazily by __getattr__ at the end (roster_store imports us)
    from kiosk.checkin.roster_store import RosterStore

ROSTER_VERSION = 1
SESSION_KINDS = ("theory", "practical")
_NORM_TOLERANCE = 1e-3
_ROSTER_KEYS = {"v", "roster_id", "version", "issued_at", "expires_at", "session", "applicants"}
_SESSION_KEYS = {"session_id", "centre", "room", "kind", "starts_at", "ends_at"}
_APPLICANT_KEYS = {"applicant_id", "iin", "name", "seat", "booking_code", "templates"}
_TEMPLATE_KEYS = {"pack", "vector"}
_SIGNED_KEYS = {"roster", "sig", "key_id"}

# --- the roster model ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Template:
    """One enrolment template: an L2-normalised float32 embedding from a given model pack."""

    pack_id: str
    vector: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return self.pack_id == other.pack_id and np.array_equal(self.vector, other.vector)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ExamSession:
    session_id: str
    centre: str
    room: str
    kind: Literal["theory", "practical"]
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class BookedApplicant:
    applicant_id: str
    iin: str
    name: str
    seat: str
    booking_code: str
    templates: list[Template] = field(default_factory=list)


def normalise_booking_code(code: str) -> str:
    """Booking codes are typed by people: ignore case, spaces and dashes."""
    return re.sub(r"[\s-]", "", code).upper()


@dataclass(frozen=True)
class Roster:
    """The centre-signed list of applicants booked into one exam session."""

    roster_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    session: ExamSession
    applicants: list[BookedApplicant]
    _by_code: dict[str, BookedApplicant] = field(init=False, repr=False, compare=False)
    _by_iin: dict[str, BookedApplicant] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, BookedApplicant] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_by_code", {normalise_booking_code(a.booking_code): a for a in self.applicants}
        )
        object.__setattr__(self, "_by_iin", {a.iin: a for a in self.applicants})
        object.__setattr__(self, "_by_id", {a.applicant_id: a for a in self.applicants})

    def by_booking_code(self, code: str) -> BookedApplicant:
        """The applicant with this booking code; UnknownApplicant if not booked here."""
        found = self._by_code.get(normalise_booking_code(code))
        if found is None:
            raise UnknownApplicant(f"booking code {code.strip()!r} is not on this session's roster")
        return found

    def by_iin(self, iin: str) -> BookedApplicant:
        found = self._by_iin.get(iin.strip())
        if found is None:
            raise UnknownApplicant(f"IIN {mask_iin(iin.strip())} is not on this session's roster")
        return found

    def by_applicant_id(self, applicant_id: str) -> BookedApplicant:
        found = self._by_id.get(applicant_id)
        if found is None:
            raise UnknownApplicant(f"applicant {applicant_id!r} is not on this session's roster")
        return found

    @property
    def room_key(self) -> str:
        """What anti-rollback versions are kept per: centre and room."""
        return f"{self.session.centre}/{self.session.room}"


# --- wire format -----------------------------------------------------------------------------


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: object, where: str) -> np.ndarray:
    if not isinstance(text, str):
        raise RosterError(f"{where}: vector must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RosterError(f"{where}: vector is not valid base64") from None
    if not raw or len(raw) % 4:
        raise RosterError(f"{where}: vector is not a whole number of float32 values")
    vec = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise RosterError(f"{where}: vector has NaN or infinite values")
    norm = float(np.linalg.norm(vec))
    if abs(norm - 1.0) > _NORM_TOLERANCE:
        raise RosterError(f"{where}: vector is not L2-normalised (norm {norm:.4f})")
    return vec


def roster_to_document(roster: Roster) -> dict[str, Any]:
    """The unsigned roster document (what the centre signs)."""
    s = roster.session
    return {
        "v": ROSTER_VERSION,
        "roster_id": roster.roster_id,
        "version": roster.version,
        "issued_at": format_ts(roster.issued_at),
        "expires_at": format_ts(roster.expires_at),
        "session": {
            "session_id": s.session_id,
            "centre": s.centre,
            "room": s.room,
            "kind": s.kind,
            "starts_at": format_ts(s.starts_at),
            "ends_at": format_ts(s.ends_at),
        },
        "applicants": [
            {
                "applicant_id": a.applicant_id,
                "iin": a.iin,
                "name": a.name,
                "seat": a.seat,
                "booking_code": a.booking_code,
                "templates": [
                    {"pack": t.pack_id, "vector": encode_vector(t.vector)} for t in a.templates
                ],
            }
            for a in roster.applicants
        ],
    }


def _obj(value: object, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RosterError(f"{where} must be an object")
    missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
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
    except KioskError as exc:
        raise RosterError(f"{where}: {key}: {exc}") from None


def _template_vector(t: object, where: str, dims: dict[str, int]) -> Template:
    t = _obj(t, _TEMPLATE_KEYS, where)
    pack = _text(t, "pack", where)
    vec = decode_vector(t["vector"], where)
    if dims.setdefault(pack, vec.size) != vec.size:
        raise RosterError(f"{where}: pack {pack} vectors must all have {dims[pack]} values")
    return Template(pack, vec)


def _applicant(a: object, i: int, dims: dict[str, int]) -> BookedApplicant:
    where = f"applicant #{i + 1}"
    a = _obj(a, _APPLICANT_KEYS, where)
    applicant_id = _text(a, "applicant_id", where)
    where = f"applicant {applicant_id}"
    try:
        validate_iin(a["iin"])
    except RosterError as exc:
        raise RosterError(f"{where}: {exc}") from None
    if not isinstance(a["templates"], list):
        raise RosterError(f"{where}: templates must be a list")
    templates = [
        _template_vector(t, f"{where} template #{j + 1}", dims)
        for j, t in enumerate(a["templates"])
    ]
    return BookedApplicant(
        applicant_id=applicant_id,
        iin=a["iin"],
        name=_text(a, "name", where),
        seat=_text(a, "seat", where, allow_empty=True),
        booking_code=_text(a, "booking_code", where),
        templates=templates,
    )


def roster_from_document(doc: object) -> Roster:
    """Strictly parse an (already verified) roster document; RosterError names the problem."""
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
    session = ExamSession(
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
    applicants = [_applicant(a, i, dims) for i, a in enumerate(d["applicants"])]
    for what, get in (
        ("applicant_id", lambda a: a.applicant_id),
        ("IIN", lambda a: a.iin),
        ("booking code", lambda a: normalise_booking_code(a.booking_code)),
        ("seat", lambda a: a.seat or None),
    ):
        seen: set[object] = set()
        for a in applicants:
            value = get(a)
            if value is not None and value in seen:
                raise RosterError(f"applicant {a.applicant_id}: duplicate {what} in roster")
            seen.add(value)
    return Roster(
        roster_id=_text(d, "roster_id", "roster"),
        version=version,
        issued_at=issued,
        expires_at=expires,
        session=session,
        applicants=applicants,
    )


def sign_roster(roster: Roster, centre_private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed envelope the centre publishes; refuses to sign an invalid roster."""
    doc = roster_to_document(roster)
    roster_from_document(doc)  # never sign what a kiosk would refuse
    sig = centre_private_key.sign(canonical_json(doc))
    return {
        "roster": doc,
        "sig": base64.b64encode(sig).decode("ascii"),
        "key_id": key_id(centre_private_key.public_key()),
    }


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
        doc = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, RosterError):
            raise
        raise RosterError(f"roster is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RosterError("roster must be a JSON object")
    return doc


def parse_signed_roster(
    doc: dict[str, Any] | bytes | str,
    centre_public_key: Ed25519PublicKey,
    *,
    now: datetime,
    min_version: int = 0,
) -> Roster:
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
    except (InvalidSignature, binascii.Error, ValueError, TypeError, KioskError):
        raise RosterSignatureInvalid(
            "roster signature does not verify: it was edited or signed by another key"
        ) from None
    roster = roster_from_document(doc["roster"])
    if roster.version <= min_version:
        raise RosterRollback(
            f"roster {roster.roster_id} version {roster.version} is not newer than the "
            f"accepted version {min_version} for {roster.room_key}"
        )
    if now >= roster.expires_at:
        raise RosterExpired(f"roster {roster.roster_id} expired at {format_ts(roster.expires_at)}")
    return roster


def __getattr__(name: str) -> Any:
    """`RosterStore` moved to `kiosk.checkin.roster_store`, which imports this module;
    importing it here at the top would be circular, so the old path is served lazily."""
    if name == "RosterStore":
        from kiosk.checkin.roster_store import RosterStore

        return RosterStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SESSION_KINDS",
    "BookedApplicant",
    "ExamSession",
    "Roster",
    "RosterStore",
    "Template",
    "iin_check_digit",
    "load_roster_json",
    "make_iin",
    "mask_iin",
    "parse_signed_roster",
    "roster_from_document",
    "roster_to_document",
    "sign_roster",
    "validate_iin",
]
