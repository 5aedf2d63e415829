"""The `kiosk` command. Each sub-command lives in `kiosk/commands/<name>.py` and exposes
`register(subparsers)`; this module only wires them together and turns a `KioskError`
into one clear line and exit code 2 instead of a traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence

from kiosk.errors import KioskError
from kiosk.owner_only import restrict_umask

# Imported lazily per run so `kiosk --help` stays fast; add a module here to add commands.
COMMAND_MODULES = (
    "kiosk.commands.config_cmd",
    "kiosk.commands.models_cmd",
    "kiosk.commands.vision_cmd",
    "kiosk.commands.ledger_cmd",
    "kiosk.commands.keys_cmd",
    "kiosk.commands.security_cmd",
    "kiosk.commands.centre_cmd",
    "kiosk.commands.sync_cmd",
    "kiosk.commands.liveness_cmd",
    "kiosk.commands.checkin_cmd",
    "kiosk.commands.proctor_cmd",
    "kiosk.commands.app_cmd",
)


# Which module registers each command, so a run imports only its own command module
# (cold start: `kiosk compare` should not load ledger, camera or centre modules). A
# command missing here still works: an unknown name loads every module above.
COMMAND_INDEX = {
    "config": "kiosk.commands.config_cmd",
    "models": "kiosk.commands.models_cmd",
    "compare": "kiosk.commands.vision_cmd",
    "eval": "kiosk.commands.vision_cmd",
    "bench": "kiosk.commands.vision_cmd",
    "ledger": "kiosk.commands.ledger_cmd",
    "purge": "kiosk.commands.ledger_cmd",
    "keys": "kiosk.commands.keys_cmd",
    "camera": "kiosk.commands.security_cmd",
    "centre": "kiosk.commands.centre_cmd",
    "sync": "kiosk.commands.sync_cmd",
    "liveness": "kiosk.commands.liveness_cmd",
    "enroll": "kiosk.commands.checkin_cmd",
    "roster": "kiosk.commands.checkin_cmd",
    "proctor": "kiosk.commands.proctor_cmd",
    "run": "kiosk.commands.app_cmd",
    "demo": "kiosk.commands.app_cmd",
    "calibrate": "kiosk.commands.app_cmd",
}


def command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in `argv` (the first word that is not an option)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--config":
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only the module that registers it is imported."""
    parser = argparse.ArgumentParser(prog="kiosk", description="Exam-door biometric check-in kiosk")
    parser.add_argument(
        "--config", help="TOML config file (default: KIOSK_CONFIG or <data_dir>/kiosk.toml)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = COMMAND_INDEX.get(command or "")
    modules = (only,) if only in COMMAND_MODULES else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_in(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    # Everything a command writes (ledger, PIN hashes, rosters, SQLite -wal/-shm) is for
    # this account only; see kiosk/owner_only.py.
    restrict_umask()
    try:
        return int(args.handler(args) or 0)
    except KioskError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        # A ledger, roster or template file damaged past what its store checks on open
        # (e.g. truncated mid-page): one sentence, not a traceback.
        print(
            f"error [storage_damaged]: a database file is damaged or unreadable ({exc})",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
