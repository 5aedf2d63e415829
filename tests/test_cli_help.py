"""Every `kiosk` command and sub-command explains itself: a description, help for each
argument, and the exit codes, walked from the real parser."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from kiosk.cli import build_parser, main


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


COMMANDS = [path for path, _ in walk(build_parser())]


def test_the_walk_finds_the_commands() -> None:
    named = {("eval",), ("compare",), ("bench",), ("run",), ("demo",), ("calibrate",)}
    named |= {("purge",), ("liveness", "eval"), ("liveness", "show"), ()}
    assert named <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "kiosk")
def test_every_command_describes_itself_and_its_arguments(path: tuple[str, ...]) -> None:
    parser = dict(walk(build_parser()))[path]
    assert parser.description and len(parser.description) > 15, path
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, (path, action.dest)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "kiosk")
def test_help_prints_the_description(path: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    parser = dict(walk(build_parser()))[path]
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    if path == ("centre",):  # forwards every argument, --help too, to `kiosk-centre`
        assert "kiosk centre" in out and "centre service" in out
        return
    assert " ".join(parser.description.split())[:60] in out


def test_top_level_help_documents_exit_codes(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "exit codes" in out and "130" in out


def test_compare_help_documents_its_exit_codes(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "0 match, 1 no match at the threshold, 2 error" in out
    assert "PHOTO_A" in out and "PHOTO_B" in out
