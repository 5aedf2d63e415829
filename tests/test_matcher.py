"""Matcher: calibration loading, fusion, 1:1 and 1:N outcomes on real embeddings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.checkin.matcher import (
    Calibration,
    Matcher,
    MatchOutcome,
    TemplatePackMismatch,
    find_calibration,
)
from kiosk.checkin.roster import BookedApplicant, ExamSession, Roster, Template, make_iin
from kiosk.config import KioskConfig
from kiosk.errors import ConfigError
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FaceEngine, FaceObservation

DATA = Path(__file__).resolve().parent / "data" / "checkin"
THRESHOLD = 0.40787


@pytest.fixture(scope="module")
def obs(engine: FaceEngine) -> dict[str, FaceObservation]:
    names = ["img26", "img42", "img43", "img44", "img47", "img48", "img50", "img53", "img34"]
    return {n: engine.analyze(read_image(DATA / f"{n}.jpg")).primary for n in names}


def _applicant(aid: str, pack: str, vector: np.ndarray, n: int) -> BookedApplicant:
    return BookedApplicant(
        aid, make_iin(date(2004, 5, n), 5, 400 + n), aid, str(n), f"B{n}", [Template(pack, vector)]
    )


@pytest.fixture(scope="module")
def roster(engine: FaceEngine, obs: dict[str, FaceObservation]) -> Roster:
    t0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
    session = ExamSession("S", "C", "R", "theory", t0, t0 + timedelta(hours=1))
    apps = [
        _applicant("A08", engine.pack_id, obs["img26"].embedding, 1),
        _applicant("A12", engine.pack_id, obs["img47"].embedding, 2),
    ]
    return Roster("R", 1, t0 - timedelta(days=1), t0 + timedelta(days=1), session, apps)


@pytest.fixture
def matcher(engine: FaceEngine) -> Matcher:
    return Matcher(Calibration(engine.pack_id, THRESHOLD, 1e-3), pack_id=engine.pack_id)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_calibration_file_is_parsed_and_checked(tmp_path: Path, engine: FaceEngine) -> None:
    good = _write(
        tmp_path / "cal.toml",
        f'[calibration]\npack_id = "{engine.pack_id}"\nthreshold = 0.41\ntarget_fmr = 0.001\n'
        'measured_fmr = 0.0009\nmeasured_fnmr = 0.02\npairs = 1830\ncreated_at = "2026-11-25"\n',
    )
    cal = Calibration.load(good)
    assert (cal.threshold, cal.target_fmr, cal.measured_fnmr, cal.pairs) == (
        0.41,
        0.001,
        0.02,
        1830,
    )
    assert Matcher(good, pack_id=engine.pack_id).threshold == 0.41
    for bad, message in [
        ("[other]\n", "no \\[calibration\\]"),
        ('[calibration]\npack_id = "x"\n', "threshold must be a number"),
        ('[calibration]\npack_id = "x"\nthreshold = 1.5\ntarget_fmr = 0.001\n', "not a cosine"),
        ("[calibration\n", "unreadable"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Calibration.load(_write(tmp_path / "bad.toml", bad))
    with pytest.raises(TemplatePackMismatch, match="recalibrate"):
        Matcher(replace(cal, pack_id="another-pack"), pack_id=engine.pack_id)


def test_config_file_wins_over_the_bundled_one_and_none_is_an_error(
    tmp_path: Path, engine: FaceEngine
) -> None:
    cfg = KioskConfig()
    site = _write(
        tmp_path / "site.toml",
        f'[calibration]\npack_id = "{engine.pack_id}"\nthreshold = 0.45\ntarget_fmr = 0.01\n'
        "impostor_pairs = 300\npeople = 20\ntarget_demonstrable = true\n",
    )
    cfg.match.calibration_file = str(site)
    assert find_calibration(cfg, engine.pack).threshold == 0.45
    cfg.match.calibration_file = ""
    if engine.pack.calibration_path and engine.pack.calibration_path.is_file():
        assert find_calibration(cfg, engine.pack).pack_id == engine.pack_id
    with pytest.raises(ConfigError, match="will not guess"):
        find_calibration(cfg, replace(engine.pack, calibration=""))


def test_fusion_uses_the_best_good_frames_and_renormalises(
    matcher: Matcher, obs: dict[str, FaceObservation]
) -> None:
    frames = [obs["img34"], obs["img42"], obs["img43"], obs["img44"], obs["img48"]]
    assert not obs["img34"].quality.ok  # uneven light: never fused
    chosen = matcher.select_frames(frames)
    assert len(chosen) == 3 and all(o is not obs["img34"] for o in chosen)
    assert [o.quality.score for o in chosen] == sorted(
        (o.quality.score for o in chosen), reverse=True
    )
    fused = matcher.fuse(frames[:4])
    assert np.linalg.norm(fused) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        matcher.fuse([obs["img34"]])


def test_genuine_fused_score_beats_each_frame_median(
    matcher: Matcher, obs: dict[str, FaceObservation], roster: Roster
) -> None:
    frames = [obs["img42"], obs["img43"], obs["img44"]]
    r = matcher.verify(frames, roster.by_applicant_id("A08"), roster)
    assert r.outcome is MatchOutcome.MATCH and r.frames_used == 3
    assert r.score >= float(np.median(r.frame_scores))  # fusion does not lose to the median
    assert r.score > 0.65 and r.second_best < 0.2 and r.second_best_applicant is None
    assert r.consistency > THRESHOLD and r.gallery_size == 1


def test_stand_in_ambiguous_no_match_and_inconsistent(
    matcher: Matcher, obs: dict[str, FaceObservation], roster: Roster, engine: FaceEngine
) -> None:
    a08 = roster.by_applicant_id("A08")
    stand_in = matcher.verify([obs["img48"], obs["img50"]], a08, roster)
    assert stand_in.outcome is MatchOutcome.STAND_IN and stand_in.second_best_applicant == "A12"
    outsider = matcher.verify([obs["img53"]], a08, roster)
    assert outsider.outcome is MatchOutcome.NO_MATCH and outsider.score < THRESHOLD
    mixed = matcher.verify([obs["img42"], obs["img48"]], a08, roster)
    assert mixed.outcome is MatchOutcome.INCONSISTENT  # two people fused into one probe
    twin = _applicant("TWIN", engine.pack_id, obs["img44"].embedding, 3)
    with_twin = replace(roster, applicants=[*roster.applicants, twin])
    ambiguous = matcher.verify([obs["img42"], obs["img43"]], a08, with_twin)
    assert ambiguous.outcome is MatchOutcome.AMBIGUOUS
    assert ambiguous.second_best_applicant == "TWIN"


def test_templates_of_another_pack_are_never_compared(
    matcher: Matcher, obs: dict[str, FaceObservation], roster: Roster
) -> None:
    a08 = roster.by_applicant_id("A08")
    foreign = replace(a08, templates=[Template("other-pack", a08.templates[0].vector)])
    with pytest.raises(TemplatePackMismatch, match="re-enrol"):
        matcher.verify([obs["img42"]], foreign, roster)
    others = replace(roster, applicants=[foreign, roster.by_applicant_id("A12")])
    r = matcher.verify([obs["img47"]], roster.by_applicant_id("A12"), others)
    assert (r.gallery_size, r.gallery_skipped) == (0, 1)
    assert "vector" not in str(r.as_dict()) and len(r.as_dict()["frame_scores"]) == 1
