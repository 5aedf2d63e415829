"""The booking photo in the signed roster: bounded on the wire, signed with the rest,
encrypted at rest in the template vault and purged with the templates (issue 15)."""

from __future__ import annotations

import base64
import copy
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.checkin.roster import (
    BookedApplicant,
    ExamSession,
    Roster,
    Template,
    make_iin,
    parse_signed_roster,
    sign_roster,
)
from kiosk.checkin.roster_store import RosterStore
from kiosk.demo.roster import DEMO_DIR, booking_photo, load_demo_people
from kiosk.errors import RosterError, RosterSignatureInvalid, TemplateVaultError
from kiosk.ledger.vault import TemplateVault
from kiosk.protocol.photo import PHOTO_MAX_BYTES, check_photo, jpeg_size
from kiosk.protocol.roster import RosterDocument, sign_roster_document, verify_signed_roster
from kiosk.vision.imageio import read_image

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def jpeg(width: int, height: int, quality: int = 90) -> bytes:
    """A real JPEG of the given size (a gradient, so it compresses like a photo)."""
    ramp = np.linspace(0, 255, width * height, dtype=np.float32).reshape(height, width)
    image = np.dstack([ramp, ramp[::-1], np.full_like(ramp, 128)]).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def roster(photos: dict[int, bytes | None], version: int = 2) -> Roster:
    rng = np.random.default_rng(version)
    applicants = []
    for i in range(2):
        v = rng.normal(size=128).astype(np.float32)
        applicants.append(
            BookedApplicant(
                applicant_id=f"APP-{i}",
                iin=make_iin(date(1990, 3, 14 + i), 3, 100 + i),
                name=f"Applicant {i}",
                seat=str(i + 1),
                booking_code=f"BK-{1000 + i}",
                templates=[Template("sface-2021dec", v / np.linalg.norm(v))],
                photo=photos.get(i),
            )
        )
    session = ExamSession(
        "SES-1", "ALA-01", "101", "theory", NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    )
    return Roster("R-1", version, NOW, NOW + timedelta(hours=12), session, applicants)


@pytest.fixture(scope="module")
def centre() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_jpeg_size_reads_the_frame_header() -> None:
    assert jpeg_size(jpeg(320, 400)) == (320, 400)
    assert jpeg_size(jpeg(17, 9)) == (17, 9)
    assert jpeg_size(b"\x89PNG\r\n\x1a\n" + bytes(40)) is None
    assert jpeg_size(jpeg(320, 400)[:20]) is None  # cut before the frame header


def test_photo_round_trips_signed_and_old_rosters_still_verify(centre: Ed25519PrivateKey) -> None:
    photo = jpeg(320, 400)
    with_photo = roster({0: photo})
    signed = sign_roster(with_photo, centre)
    assert signed["roster"]["applicants"][0]["photo"] == base64.b64encode(photo).decode()
    assert "photo" not in signed["roster"]["applicants"][1]  # absent, not null
    parsed = parse_signed_roster(signed, centre.public_key(), now=NOW)
    assert parsed.applicants[0].photo == photo and parsed.applicants[1].photo is None
    # a roster without photos signs exactly as before the field existed
    plain = sign_roster(roster({}), centre)
    assert all(
        set(a) == {"applicant_id", "iin", "name", "seat", "booking_code", "templates"}
        for a in plain["roster"]["applicants"]
    )
    assert verify_signed_roster(plain, centre.public_key(), now=NOW).applicants[0].photo is None


def test_a_swapped_photo_breaks_the_signature(centre: Ed25519PrivateKey) -> None:
    signed = sign_roster(roster({0: jpeg(320, 400)}), centre)
    edited = copy.deepcopy(signed)
    edited["roster"]["applicants"][0]["photo"] = base64.b64encode(jpeg(300, 400)).decode()
    with pytest.raises(RosterSignatureInvalid):
        parse_signed_roster(edited, centre.public_key(), now=NOW)
    added = copy.deepcopy(signed)
    added["roster"]["applicants"][1]["photo"] = signed["roster"]["applicants"][0]["photo"]
    with pytest.raises(RosterSignatureInvalid):
        parse_signed_roster(added, centre.public_key(), now=NOW)


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (base64.b64encode(jpeg(321, 400)).decode(), "photo is 321x400 px; at most 320x400 px"),
        (base64.b64encode(jpeg(320, 401)).decode(), "photo is 320x401 px; at most 320x400 px"),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode(), "photo is not a JPEG"),
        (base64.b64encode(jpeg(16, 16)[:100]).decode(), "photo is not a JPEG"),
        ("not base64!", "photo is not valid base64"),
        (12, "photo must be a base64 string"),
        (base64.b64encode(b"\xff\xd8\xff" + bytes(PHOTO_MAX_BYTES)).decode(), "photo is larger"),
        ("A" * (PHOTO_MAX_BYTES * 2), "photo is larger than 64 KB"),
    ],
    ids=["wide", "tall", "png", "cut", "base64", "number", "bytes", "text"],
)
def test_bad_photos_are_refused_with_a_precise_sentence(
    centre: Ed25519PrivateKey, photo: object, message: str
) -> None:
    doc = sign_roster(roster({}), centre)["roster"]
    doc["applicants"][0]["photo"] = photo
    with pytest.raises(RosterError, match=f"^applicant APP-0: {message}"):
        RosterDocument.from_dict(doc)
    with pytest.raises(RosterError):  # the centre will not sign it either
        sign_roster_document(doc, centre)


def test_a_noisy_photo_at_the_size_limit_can_exceed_the_byte_limit() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (400, 320, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok and len(buf) > PHOTO_MAX_BYTES
    with pytest.raises(RosterError, match=r"^x: photo is larger than 64 KB$"):
        check_photo(base64.b64encode(buf.tobytes()).decode(), "x")


def test_store_keeps_the_photo_encrypted_and_purges_it_with_the_templates(
    tmp_path: Path, centre: Ed25519PrivateKey
) -> None:
    key, photo = os.urandom(32), jpeg(320, 400)
    vault = TemplateVault(tmp_path / "vault.sqlite", key)
    store = RosterStore(tmp_path / "rosters.sqlite", vault)
    store.accept(sign_roster(roster({0: photo}), centre), centre.public_key(), now=NOW)
    store.close()
    vault.close()
    # neither the JPEG nor its base64 is anywhere on disk (vault, roster store, WALs)
    b64 = base64.b64encode(photo)
    for p in tmp_path.iterdir():
        data = p.read_bytes()
        assert photo[100:164] not in data and b64[100:164] not in data, p.name

    vault = TemplateVault(tmp_path / "vault.sqlite", key)
    store = RosterStore(tmp_path / "rosters.sqlite", vault)
    loaded = store.load("ALA-01", "101")
    assert loaded is not None and loaded.applicants[0].photo == photo
    assert loaded.applicants[1].photo is None
    assert vault.photo_count() == 1
    # a newer roster for the session without the photo takes it away; with it, puts it back
    store.accept(sign_roster(roster({}, version=3), centre), centre.public_key(), now=NOW)
    assert vault.photo_count() == 0
    assert store.load("ALA-01", "101").applicants[0].photo is None
    store.accept(sign_roster(roster({0: photo}, version=4), centre), centre.public_key(), now=NOW)
    assert store.load("ALA-01", "101").applicants[0].photo == photo
    # one retention rule: a second before the end nothing goes, at the end both go
    end = NOW + timedelta(hours=2, days=30)
    assert vault.purge(end - timedelta(seconds=1)) == 0 and vault.photo_count() == 1
    assert vault.purge(end) == 2
    assert vault.photo_count() == 0 and vault.get_photo("SES-1", "APP-0") is None
    reloaded = store.load("ALA-01", "101")
    assert reloaded is not None and reloaded.applicants[0].photo is None
    store.close()
    vault.close()


def test_a_photo_moved_to_another_applicant_fails_to_decrypt(tmp_path: Path) -> None:
    vault = TemplateVault(tmp_path / "vault.sqlite", os.urandom(32))
    vault.put_photo("SES-1", "APP-0", jpeg(32, 40), expires_at=NOW)
    vault._conn.execute("UPDATE photos SET applicant_id = 'APP-1'")
    with pytest.raises(
        TemplateVaultError, match=r"booking photo of applicant APP-1 .* fails to decrypt"
    ):
        vault.get_photo("SES-1", "APP-1")
    assert vault.purge_session("SES-1") == 0  # no template rows; the photo goes with them
    assert vault.photo_count() == 0
    vault.close()


def test_demo_booking_photos_fit_the_roster_limits() -> None:
    _session, people = load_demo_people(DEMO_DIR)
    sizes = []
    for person in people:
        photo = booking_photo(read_image(person.photo))
        assert check_photo(base64.b64encode(photo).decode(), person.applicant_id) == photo
        sizes.append(jpeg_size(photo))
    assert sizes == [(320, 399), (320, 400), (320, 400), (320, 400), (289, 362)]


def test_booking_photo_crops_a_wide_image_to_a_portrait() -> None:
    wide = np.zeros((600, 1200, 3), np.uint8)
    assert jpeg_size(booking_photo(wide)) == (320, 400)
    small = np.zeros((100, 60, 3), np.uint8)  # never upscaled
    assert jpeg_size(booking_photo(small)) == (60, 75)
