"""The floor under a calibrated threshold: rule of three, distinct people, the exact
Clopper-Pearson bound, never below the bundled threshold without a centre policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.checkin.calibration_floor import (
    assess,
    check_min_people,
    check_recorded,
    clopper_pearson_upper,
    format_rate,
    impostor_pairs_needed,
)
from kiosk.checkin.matcher import Calibration, find_calibration
from kiosk.config import load_config
from kiosk.errors import CalibrationNotDemonstrable, ConfigError

PACK = "ocvzoo-yunet2023mar-sface2021dec-fp32"


def test_rule_of_three_counts() -> None:
    assert impostor_pairs_needed(1e-3) == 3000
    assert impostor_pairs_needed(1e-2) == 300
    assert format_rate(1e-3) == "1e-3"
    assert format_rate(2.5e-3) == "0.0025"


def test_clopper_pearson_upper_bounds() -> None:
    # One-sided 95 % (the rule of three's convention): scipy.stats.beta.ppf(0.95, k + 1, n - k).
    # 0 of 3,000 stays below 1e-3, so the rule of three and the bound agree.
    assert clopper_pearson_upper(0, 300) == pytest.approx(0.0099361, abs=1e-6)
    assert clopper_pearson_upper(0, 3000) == pytest.approx(0.0009981, abs=1e-6)
    assert clopper_pearson_upper(3, 380) == pytest.approx(0.0202770, abs=1e-6)
    assert clopper_pearson_upper(5, 5) == 1.0


def test_too_few_pairs_and_people_are_named() -> None:
    verdict = assess(
        target_fmr=1e-3, impostor_scores=[0.1] * 380, threshold=0.2, people=2, min_people=20
    )
    assert not verdict.demonstrable
    assert verdict.reasons == (
        "380 impostor pairs cannot show 1e-3: the rule of three needs at least 3000 "
        "(3 / target FMR)",
        "2 people cannot show it: impostor pairs must come from at least 20 distinct people",
    )
    with pytest.raises(CalibrationNotDemonstrable, match=r"^calibration refused: 380 impostor"):
        verdict.refuse_unless_demonstrable()


def test_a_low_threshold_is_raised_to_the_bundled_one() -> None:
    scores = [0.05] * 297 + [0.30, 0.35, 0.42]
    verdict = assess(
        target_fmr=1e-2,
        impostor_scores=scores,
        threshold=0.3286,
        people=None,
        bundled_threshold=0.40787,
    )
    assert verdict.demonstrable
    assert verdict.threshold == 0.40787 and verdict.raised_to_bundled
    assert verdict.false_matches == 1  # 0.42 still passes the bundled threshold
    assert verdict.fmr_upper_95 == pytest.approx(clopper_pearson_upper(1, 300))
    assert verdict.as_fields()["measured_threshold"] == 0.3286


def test_the_people_floor_can_only_be_raised() -> None:
    assert check_min_people(30) == 30
    with pytest.raises(ConfigError, match="below the floor of 20"):
        check_min_people(19)
    with pytest.raises(ConfigError, match="calibration_min_people must be at least 20"):
        load_config(environ={"KIOSK_MATCH_CALIBRATION_MIN_PEOPLE": "3"})


def _site_file(tmp_path: Path, **fields: object) -> Path:
    table = {
        "pack_id": PACK,
        "threshold": 0.45,
        "target_fmr": 1e-2,
        "impostor_pairs": 400,
        "people": 20,
        "min_people": 20,
        "target_demonstrable": True,
        **fields,
    }
    body = "\n".join(f"{k} = {v!r}".replace("True", "true") for k, v in table.items())
    path = tmp_path / "site.toml"
    path.write_text("[calibration]\n" + body.replace("'", '"') + "\n", encoding="utf-8")
    return path


def test_a_site_file_that_cannot_show_its_target_is_refused(tmp_path: Path) -> None:
    assert Calibration.load(_site_file(tmp_path), site=True).threshold == 0.45
    with pytest.raises(CalibrationNotDemonstrable, match="3 people, fewer than 20"):
        Calibration.load(_site_file(tmp_path, people=3), site=True)
    with pytest.raises(CalibrationNotDemonstrable, match=r"12 impostor pairs cannot show 1e-2"):
        Calibration.load(_site_file(tmp_path, impostor_pairs=12), site=True)
    # the same file as a pack's bundled calibration only warns (the pack is checked whole)
    assert Calibration.load(_site_file(tmp_path, people=3)).threshold == 0.45


def test_a_site_threshold_below_the_bundled_one_is_refused(tmp_path: Path, engine) -> None:  # type: ignore[no-untyped-def]
    path = _site_file(tmp_path, threshold=0.3)
    cfg = load_config(environ={"KIOSK_MATCH_CALIBRATION_FILE": str(path)})
    with pytest.raises(CalibrationNotDemonstrable, match=r"below the pack.s bundled 0\.40787"):
        find_calibration(cfg, engine.pack)


def test_a_site_file_needs_its_signed_record(tmp_path: Path) -> None:
    cal = Calibration.load(_site_file(tmp_path), site=True)
    check_recorded(cal.file_sha256, [{"calibration_sha256": cal.file_sha256}], cal.source)
    with pytest.raises(CalibrationNotDemonstrable, match="does not match any signed"):
        check_recorded(cal.file_sha256, [{"calibration_sha256": "0" * 64}], cal.source)
