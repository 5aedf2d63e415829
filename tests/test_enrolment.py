"""Enrolment quality gating, encrypted storage, and the roster CLI (make-demo, import, show)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.checkin.enrolment import PENDING_SESSION, EnrolmentRefused, enrol, store_pending
from kiosk.cli import main
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.ledger.vault import TemplateVault
from kiosk.vision.pipeline import FaceEngine

DATA = Path(__file__).resolve().parent / "data" / "checkin"
THRESHOLD = 0.40787


def test_good_photos_fuse_into_one_normalised_template(engine: FaceEngine) -> None:
    result = enrol(
        engine,
        [DATA / "img26.jpg", DATA / "img45.jpg"],
        applicant_id="A1",
        agreement_threshold=THRESHOLD,
    )
    vec = result.template.vector
    assert result.template.pack_id == engine.pack_id and vec.shape == (128,)
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert result.agreement > THRESHOLD and all(c.ok for c in result.checks)


def test_bad_photos_are_refused_with_the_reason(engine: FaceEngine, tmp_path: Path) -> None:
    with pytest.raises(EnrolmentRefused, match="uneven_light") as err:
        enrol(engine, [DATA / "img34.jpg"], applicant_id="A1", agreement_threshold=THRESHOLD)
    (check,) = err.value.checks
    assert (check.photo, check.ok, check.reason) == ("img34.jpg", False, "uneven_light")

    blank = tmp_path / "wall.png"
    import cv2

    cv2.imwrite(str(blank), np.full((300, 300, 3), 120, np.uint8))
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8not a jpeg")
    with pytest.raises(EnrolmentRefused) as err:
        enrol(
            engine,
            [DATA / "img26.jpg", blank, corrupt],
            applicant_id="A1",
            agreement_threshold=THRESHOLD,
        )
    assert [c.reason for c in err.value.checks] == [None, "no_face", "unreadable"]
    with pytest.raises(EnrolmentRefused, match="same person"):
        enrol(
            engine,
            [DATA / "img26.jpg", DATA / "img47.jpg"],
            applicant_id="A1",
            agreement_threshold=THRESHOLD,
        )
    with pytest.raises(EnrolmentRefused, match="at least one"):
        enrol(engine, [], applicant_id="A1", agreement_threshold=THRESHOLD)


def test_pending_template_is_encrypted_at_rest(engine: FaceEngine, tmp_path: Path) -> None:
    result = enrol(engine, [DATA / "img26.jpg"], applicant_id="A1", agreement_threshold=THRESHOLD)
    keys = DeviceKeys.load_or_create(tmp_path)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with TemplateVault(tmp_path / "t.sqlite", keys.template_key()) as vault:
        store_pending(vault, result, now=now, retention=timedelta(days=30))
        got = vault.get(PENDING_SESSION, "A1", engine.pack_id)
        np.testing.assert_array_equal(got, result.template.vector)
        assert vault.purge(now + timedelta(days=31)) == 1
        store_pending(vault, result, now=now, retention=timedelta(days=30))
    blobs = sqlite3.connect(tmp_path / "t.sqlite").execute("SELECT ciphertext FROM templates")
    raw = result.template.vector.astype("<f4").tobytes()
    assert all(raw[:16] not in bytes(b) for (b,) in blobs)


def test_cli_make_demo_import_show_and_enroll(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KIOSK_PATHS_DATA_DIR", str(tmp_path))
    assert main(["roster", "make-demo", "--pin-demo-key", "--import"]) == 0
    out = capsys.readouterr().out
    assert "DEMO centre key" in out and "A1005" in out and "Aruzhan Bekova" in out
    doc = json.loads((tmp_path / "demo-roster.json").read_text())
    assert len(doc["roster"]["applicants"]) == 5 and doc["sig"]
    assert doc["roster"]["applicants"][0]["iin"] not in out  # IINs are masked in output

    assert main(["roster", "show", "--centre", "DEMO-CENTRE", "--room", "DEMO-101"]) == 0
    assert "DEMO-THEORY-1" in capsys.readouterr().out
    # The same roster again is a rollback; an edited one fails the signature.
    assert main(["roster", "import", str(tmp_path / "demo-roster.json")]) == 2
    assert "roster_rollback" in capsys.readouterr().err
    doc["roster"]["version"] += 1
    doc["roster"]["applicants"][0]["name"] = "Someone Else"
    (tmp_path / "forged.json").write_text(json.dumps(doc))
    assert main(["roster", "import", str(tmp_path / "forged.json")]) == 2
    assert "roster_signature_invalid" in capsys.readouterr().err

    assert main(["enroll", str(DATA / "img34.jpg"), "--applicant", "X1"]) == 2
    assert "uneven_light" in capsys.readouterr().err
    assert main(["enroll", str(DATA / "img26.jpg"), "--applicant", "X1"]) == 0
    assert "stored encrypted" in capsys.readouterr().out

    keys = DeviceKeys.load(tmp_path)
    with LedgerStore(tmp_path / "ledger.sqlite", keys) as ledger:
        (rec,) = list(ledger.iter_envelopes())
        assert rec.record.type == "roster_loaded" and rec.record.body["applicants"] == 5
        assert ledger.verify() == 1
