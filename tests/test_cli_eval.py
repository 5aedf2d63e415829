"""`kiosk eval --face` and `kiosk compare --face` on photos with a larger bystander beside
the centred subject, composed here from real portraits, through the real CLI and models."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import cv2
import pytest

from kiosk.cli import main
from kiosk.commands.eval_cmd import FIELD_HELP
from kiosk.evaluation.bystander_set import build_bystander_set, compose_bystander_photo
from kiosk.evaluation.evaluation import EvalResult, Pair, PairScore, summarise


@pytest.fixture(scope="module")
def bystander_set(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """person00 (img1) centred with person01 (img12) larger at the side; probes img2
    (person00) and img3 (person01)."""
    src = data_dir / "pairs"
    folder = tmp_path_factory.mktemp("bystander")
    photo = compose_bystander_photo(
        cv2.imread(str(src / "img1.jpg")), cv2.imread(str(src / "img12.jpg"))
    )
    cv2.imwrite(str(folder / "subject00_with_01.jpg"), photo)
    for name in ("img2.jpg", "img3.jpg"):
        shutil.copy(src / name, folder / name)
    (folder / "pairs.csv").write_text(
        "image_a,image_b,same_person\nsubject00_with_01.jpg,img2.jpg,1\n"
        "subject00_with_01.jpg,img3.jpg,0\n"
    )
    return folder


def scored(out: Path) -> dict[tuple[str, str], float]:
    with (out / "pairs_scored.csv").open() as fh:
        return {(r["image_a"], r["image_b"]): float(r["score"]) for r in csv.DictReader(fh)}


def chosen(out: Path) -> dict[str, tuple[int, int]]:
    with (out / "faces.csv").open() as fh:
        return {r["image"]: (int(r["faces_found"]), int(r["chosen"])) for r in csv.DictReader(fh)}


def test_centre_scores_the_subject_and_largest_the_bystander(
    bystander_set: Path, tmp_path: Path
) -> None:
    pairs, photo = bystander_set / "pairs.csv", "subject00_with_01.jpg"
    runs = {}
    for rule in ("centre", "largest"):
        out = tmp_path / rule
        args = ["eval", str(pairs), "--images", str(bystander_set), "--out", str(out)]
        assert main([*args, "--face", rule]) == 0
        runs[rule] = out
    centre, largest = scored(runs["centre"]), scored(runs["largest"])
    # centre: the composed photo is person00, like img2, unlike img3.
    assert centre[(photo, "img2.jpg")] > 0.6 > 0.2 > centre[(photo, "img3.jpg")]
    assert chosen(runs["centre"])[photo] == (2, 2)  # the smaller, centred face
    # largest: the bystander (person01) is scored: unlike img2, like img3.
    assert largest[(photo, "img2.jpg")] < 0.2 < 0.5 < largest[(photo, "img3.jpg")]
    assert chosen(runs["largest"])[photo] == (2, 1)
    summary = json.loads((runs["centre"] / "summary.json").read_text())
    assert summary["face_rule"] == "centre" and summary["eer"] == 0.0
    assert json.loads((runs["largest"] / "summary.json").read_text())["eer"] == 1.0


def test_compare_says_which_face_it_used(
    bystander_set: Path, capsys: pytest.CaptureFixture
) -> None:
    photo, probe = str(bystander_set / "subject00_with_01.jpg"), str(bystander_set / "img2.jpg")
    assert main(["compare", photo, probe]) == 1  # the door's rule takes the bystander
    out = capsys.readouterr().out
    assert "no match at threshold" in out and "(target FMR 0.001)" in out
    assert "2 faces; used the largest one, face 1 of 2" in out
    assert main(["compare", photo, probe, "--face", "centre", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["match"] is True and report["faces"][photo]["used"] == 2


def test_eval_refuses_a_loose_pair_list_before_loading_models(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text("a.jpg,b.jpg,1\na.jpg,c.jpg,true\n")
    assert main(["eval", str(pairs), "--images", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pair_list_invalid" in err and "p.csv:2: same_person must be 1 or 0" in err


def test_eval_defaults_its_output_under_the_data_dir_and_counts_progress(
    bystander_set: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("KIOSK_PATHS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    pairs = bystander_set / "pairs.csv"
    assert main(["eval", str(pairs), "--images", str(bystander_set)]) == 0
    out, err = capsys.readouterr()
    assert "embedding photos" in err and "3/3" in err  # progress on stderr, with a count
    assert "embedding photos" not in out and "kiosk eval: pairs.csv" in out
    out = tmp_path / "data" / "eval" / "pairs-centre"
    assert {p.name for p in out.iterdir()} >= {
        "summary.json", "pairs_scored.csv", "faces.csv", "roc_det.png", "scores.png"
    }  # fmt: skip
    assert not (tmp_path / "runs").exists()


def test_every_summary_field_is_explained() -> None:
    result = EvalResult(
        [PairScore(Pair("a", "b", True), 0.9), PairScore(Pair("a", "c", False), 0.1)], [], 3
    )
    for key in summarise(result, 1e-4):
        assert re.sub(r"_at_fmr_[0-9.e-]+$", "_at_fmr_F", key) in FIELD_HELP, key


def test_bystander_set_pairs_each_composite_with_both_people(
    data_dir: Path, tmp_path: Path
) -> None:
    src = data_dir / "pairs"
    ids = {"img1.jpg": "p0", "img2.jpg": "p0", "img12.jpg": "p1", "img3.jpg": "p1"}
    ids |= {"img20.jpg": "p5", "img21.jpg": "p5"}
    pairs = build_bystander_set(src, ids, tmp_path)
    rows = pairs.read_text().splitlines()
    assert rows[0] == "image_a,image_b,same_person"
    assert "img1_with_img12.jpg,img2.jpg,1" in rows  # subject p0, its other photo
    assert "img1_with_img12.jpg,img3.jpg,0" in rows  # the bystander p1's other photo
    assert "img1_with_img12.jpg,img21.jpg,0" in rows  # everyone else's last photo
    assert len(rows) == 1 + 3 * 3
    assert "img1_with_img12.jpg,p0" in (tmp_path / "identities.csv").read_text()
