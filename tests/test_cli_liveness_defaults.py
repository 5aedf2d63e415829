"""`kiosk liveness eval|show` work from a clone with their defaults: the default faces
folder is inside the repository, and a wrong one is one clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.commands.liveness_cmd import DEFAULT_FACES
from kiosk.config import REPO_ROOT


def test_default_faces_are_inside_the_clone() -> None:
    assert DEFAULT_FACES.is_relative_to(REPO_ROOT)
    assert (DEFAULT_FACES / "identities.csv").is_file()


@pytest.mark.parametrize("command", [["show", "genuine"], ["eval"]])
def test_a_folder_without_identities_is_a_clear_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["liveness", *command, "--faces", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds no identities.csv" in err and "Traceback" not in err


def test_the_tuning_set_is_every_photo_of_its_people_and_none_of_the_report_set() -> None:
    import csv

    from kiosk.commands.liveness_cmd import TUNE_FACES

    tuning = list(csv.DictReader((TUNE_FACES / "identities.csv").open(encoding="utf-8")))
    assert all((TUNE_FACES / row["image"]).is_file() for row in tuning)
    people = {row["person"] for row in tuning}
    every = list(csv.DictReader((DEFAULT_FACES / "identities.csv").open(encoding="utf-8")))
    theirs = {row["image"] for row in every if row["person"] in people}
    assert {Path(row["image"]).name for row in tuning} == theirs
    assert len(people) == 5 and len(theirs) == 25
