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
