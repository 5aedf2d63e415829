"""The session roster on the kiosk: who is booked into this room, as numpy templates.

The signed wire format, its strict parsing, signing, verification and the anti-rollback
rule live in `kiosk.protocol.roster` (the centre uses them too); this module is the
kiosk's in-memory model of an accepted roster, with templates as float32 arrays the
matcher can use, and the conversions to and from the wire document.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.errors import UnknownApplicant
from kiosk.protocol.canonical import format_ts
from kiosk.protocol.iin import iin_check_digit, make_iin, mask_iin, validate_iin
from kiosk.protocol.roster import (
    ROSTER_VERSION,
    SESSION_KINDS,
    RosterDocument,
    check_vector,
    load_roster_json,
    normalise_booking_code,
    sign_roster_document,
    verify_signed_roster,
)


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
    # The booking photo (JPEG bytes) the proctor compares before an override; in memory
    # only: on disk it is in the vault, encrypted and purged with the templates.
    photo: bytes | None = field(default=None, repr=False)


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
    """A template vector from base64, checked (finite, L2-normalised) by the protocol."""
    return _vector(check_vector(text, where))


def _vector(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


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
        "applicants": [_applicant_to_document(a) for a in roster.applicants],
    }


def _applicant_to_document(a: BookedApplicant) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "applicant_id": a.applicant_id,
        "iin": a.iin,
        "name": a.name,
        "seat": a.seat,
        "booking_code": a.booking_code,
        "templates": [{"pack": t.pack_id, "vector": encode_vector(t.vector)} for t in a.templates],
    }
    if a.photo is not None:
        entry["photo"] = base64.b64encode(a.photo).decode("ascii")
    return entry


def roster_from_parsed(doc: RosterDocument) -> Roster:
    """The kiosk model of a strictly parsed roster document."""
    s = doc.session
    return Roster(
        roster_id=doc.roster_id,
        version=doc.version,
        issued_at=doc.issued_at,
        expires_at=doc.expires_at,
        session=ExamSession(
            s.session_id,
            s.centre,
            s.room,
            s.kind,  # type: ignore[arg-type]  # RosterDocument checked it is theory/practical
            s.starts_at,
            s.ends_at,
        ),
        applicants=[
            BookedApplicant(
                applicant_id=a.applicant_id,
                iin=a.iin,
                name=a.name,
                seat=a.seat,
                booking_code=a.booking_code,
                templates=[Template(t.pack, _vector(t.vector)) for t in a.templates],
                photo=a.photo,
            )
            for a in doc.applicants
        ],
    )


def roster_from_document(doc: object) -> Roster:
    """Strictly parse an (already verified) roster document; RosterError names the problem."""
    return roster_from_parsed(RosterDocument.from_dict(doc))


def sign_roster(roster: Roster, centre_private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed envelope the centre publishes; refuses to sign an invalid roster."""
    return sign_roster_document(roster_to_document(roster), centre_private_key)


def parse_signed_roster(
    doc: dict[str, Any] | bytes | str,
    centre_public_key: Ed25519PublicKey,
    *,
    now: datetime,
    min_version: int = 0,
) -> Roster:
    """Verify and parse a signed roster (see `kiosk.protocol.roster.verify_signed_roster`)."""
    parsed = verify_signed_roster(doc, centre_public_key, now=now, min_version=min_version)
    return roster_from_parsed(parsed)


__all__ = [
    "SESSION_KINDS",
    "BookedApplicant",
    "ExamSession",
    "Roster",
    "Template",
    "decode_vector",
    "encode_vector",
    "iin_check_digit",
    "load_roster_json",
    "make_iin",
    "mask_iin",
    "normalise_booking_code",
    "parse_signed_roster",
    "roster_from_document",
    "roster_from_parsed",
    "roster_to_document",
    "sign_roster",
    "validate_iin",
]
