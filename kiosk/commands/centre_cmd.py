"""`kiosk centre …`: a thin wrapper that hands its arguments to the centre's own entry
point (`centre.cli`, also `python -m centre` and `kiosk-centre`), imported only when run."""

from __future__ import annotations

import argparse

_COMMANDS = ("serve", "migrate", "enroll-token", "add-user", "key")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "centre",
        help="run or administer the centre service (same as `kiosk-centre`)",
        description=f"Sub-commands: {', '.join(_COMMANDS)}; see `kiosk-centre --help`.",
        add_help=False,
        # Every argument, `--help` and `--port` included, belongs to the centre's parser;
        # "+" as the only prefix keeps this parser from reading any of them as its own.
        prefix_chars="+",
    )
    p.add_argument("centre_args", nargs=argparse.REMAINDER, help="arguments for kiosk-centre")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from centre.cli import main

    forwarded = [*(["--config", args.config] if args.config else []), *["-v"] * args.verbose]
    return main([*forwarded, *args.centre_args], prog="kiosk centre")
