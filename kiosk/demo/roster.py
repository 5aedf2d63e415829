"""The offline demo roster: real photos enrolled with the running pack, signed with the demo
centre key from ``assets/demo`` (see its README: never pin that key on a real kiosk).

Why built on demand instead of shipped as a file: templates are only meaningful for the
pack that made them, and a roster carries a session time and an expiry, so a stored
roster would be for the wrong model or already expired by the time someone runs the demo.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kiosk.checkin.enrolment import enrol
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, make_iin, sign_roster
from kiosk.config import BUNDLED_ASSETS
from kiosk.errors import ConfigError
from kiosk.protocol.photo import PHOTO_MAX_BYTES, PHOTO_MAX_SIZE
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FaceEngine

log = logging.getLogger(__name__)

DEMO_DIR = BUNDLED_ASSETS / "demo"
DEMO_KEY_FILE = "demo-centre-key.pem"
DEMO_PUBLIC_KEY_FILE = "demo-centre-key.pub"


@dataclass(frozen=True)
class DemoPerson:
    applicant_id: str
    name: str
    seat: str
    booking_code: str
    iin: str
    photo: Path


def load_demo_people(demo_dir: Path = DEMO_DIR) -> tuple[dict[str, Any], list[DemoPerson]]:
    """The demo session facts and people from ``people.toml``."""
    path = demo_dir / "people.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        people = [
            DemoPerson(
                p["applicant_id"],
                p["name"],
                str(p["seat"]),
                p["booking_code"],
                make_iin(date.fromisoformat(p["birth"]), p["century_sex_digit"], p["serial"]),
                demo_dir / p["photo"],
            )
            for p in doc["people"]
        ]
        return dict(doc["session"]), people
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"demo roster definition {path} is unusable: {exc}") from None


def demo_centre_key(demo_dir: Path = DEMO_DIR) -> Ed25519PrivateKey:
    """The demo 'centre' signing key (public in the repository: demo use only)."""
    key = load_pem_private_key((demo_dir / DEMO_KEY_FILE).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{demo_dir / DEMO_KEY_FILE} is not an Ed25519 key")
    return key


def demo_public_key_b64(demo_dir: Path = DEMO_DIR) -> str:
    return (demo_dir / DEMO_PUBLIC_KEY_FILE).read_text(encoding="ascii").strip()


def booking_photo(image: np.ndarray) -> bytes:
    """A roster booking photo from a BGR image: the centre 4:5 portrait crop, downscaled to
    fit `PHOTO_MAX_SIZE`, as a JPEG within `PHOTO_MAX_BYTES` (what a kiosk accepts)."""
    h, w = image.shape[:2]
    max_w, max_h = PHOTO_MAX_SIZE
    crop_w, crop_h = min(w, h * max_w // max_h), min(h, w * max_h // max_w)
    x, y = (w - crop_w) // 2, (h - crop_h) // 2
    crop = image[y : y + crop_h, x : x + crop_w]
    scale = min(1.0, max_w / crop_w, max_h / crop_h)
    size = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    for quality in (85, 70, 50, 30):  # 320x400 is ~30 KB at 85; lower only if a photo is busy
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= PHOTO_MAX_BYTES:
            return buf.tobytes()
    raise ConfigError(f"cannot make a booking photo under {PHOTO_MAX_BYTES // 1024} KB")


def make_demo_roster(
    engine: FaceEngine,
    *,
    now: datetime,
    agreement_threshold: float,
    demo_dir: Path = DEMO_DIR,
    room: str | None = None,
    starts_in: timedelta = timedelta(minutes=10),
    duration: timedelta = timedelta(hours=3),
) -> tuple[Roster, dict[str, Any]]:
    """Enrol the demo photos and return the roster and its signed document.

    The version is the current Unix time, so each new demo roster is newer than the last
    one accepted for the room (the store refuses rollbacks).
    """
    session_doc, people = load_demo_people(demo_dir)
    applicants = []
    for person in people:
        enrolment = enrol(
            engine,
            [person.photo],
            applicant_id=person.applicant_id,
            agreement_threshold=agreement_threshold,
        )
        applicants.append(
            BookedApplicant(
                person.applicant_id,
                person.iin,
                person.name,
                person.seat,
                person.booking_code,
                [enrolment.template],
                photo=booking_photo(read_image(person.photo)),
            )
        )
    starts = now + starts_in
    session = ExamSession(
        session_id=session_doc["session_id"],
        centre=session_doc["centre"],
        room=room or session_doc["room"],
        kind=session_doc["kind"],
        starts_at=starts,
        ends_at=starts + duration,
    )
    roster = Roster(
        roster_id=f"demo-{int(now.timestamp())}",
        version=int(now.timestamp()),
        issued_at=now,
        expires_at=starts + duration + timedelta(hours=12),
        session=session,
        applicants=applicants,
    )
    log.info(
        "demo roster %s: %d applicants, room %s", roster.roster_id, len(applicants), session.room
    )
    return roster, sign_roster(roster, demo_centre_key(demo_dir))


__all__ = [
    "DEMO_DIR",
    "DemoPerson",
    "booking_photo",
    "demo_centre_key",
    "demo_public_key_b64",
    "load_demo_people",
    "make_demo_roster",
]
