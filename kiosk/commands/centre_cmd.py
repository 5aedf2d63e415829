"""`kiosk centre …`: a thin wrapper that hands its arguments to the centre's own entry
point (`centre.cli`, also `python -m centre` and `kiosk-centre`), imported only when run."""

from __future__ import annotations

import argparse
import functools
import importlib.util
from collections.abc import Callable

from kiosk.errors import MissingDependency

_COMMANDS = ("serve", "migrate", "enroll-token", "add-user", "key")

# The centre's server stack is the [centre] extra: a kiosk install does not carry it.
CENTRE_PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "alembic")
Handler = Callable[[argparse.Namespace], int]


def _needs_centre_extra(handler: Handler) -> Handler:
    """Refuse with one sentence naming the extra, not an ImportError, where it is missing."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        missing = [name for name in CENTRE_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise MissingDependency(
                f"the centre needs {', '.join(missing)}: install the kiosk with its [centre] "
                'extra (pip install -e ".[centre]")'
            )
        return handler(args)

    return run


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


@_needs_centre_extra
def _run(args: argparse.Namespace) -> int:
    from centre.cli import main

    forwarded = [*(["--config", args.config] if args.config else []), *["-v"] * args.verbose]
    return main([*forwarded, *args.centre_args], prog="kiosk centre")
