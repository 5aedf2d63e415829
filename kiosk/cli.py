"""The `kiosk` command. Each sub-command lives in `kiosk/commands/<name>.py` and exposes
`register(subparsers)`; this module only wires them together and turns a `KioskError`
into one clear line and exit code 2 instead of a traceback."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Sequence

from kiosk.errors import KioskError
from kiosk.owner_only import restrict_umask

# Imported lazily per run so `kiosk --help` stays fast; add a module here to add commands.
COMMAND_MODULES = (
    "kiosk.commands.config_cmd",
    "kiosk.commands.models_cmd",
    "kiosk.commands.compare_cmd",
    "kiosk.commands.vision_cmd",
    "kiosk.commands.eval_cmd",
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


EXIT_CODES = """\
exit codes:
  0    done
  1    a negative answer the command documents (compare: no match; camera check: not
       the pinned camera; ...), or no command given
  2    error, printed as one line "error [code]: ..." (bad input, missing file, ...)
  130  interrupted (Ctrl+C)
`kiosk COMMAND --help` describes each command."""


# Which module registers each command, so a run imports only its own command module
# (cold start: `kiosk compare` should not load ledger, camera or centre modules). A
# command missing here still works: an unknown name loads every module above.
COMMAND_INDEX = {
    "config": "kiosk.commands.config_cmd",
    "models": "kiosk.commands.models_cmd",
    "compare": "kiosk.commands.compare_cmd",
    "eval": "kiosk.commands.eval_cmd",
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
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="Exam-door biometric check-in kiosk: the door, its enrolment, ledger, "
        "sync and evaluation tools.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="TOML config file (default: KIOSK_CONFIG or <data_dir>/kiosk.toml)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = COMMAND_INDEX.get(command or "")
    modules = (only,) if only in COMMAND_MODULES else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    describe_commands(parser)
    return parser


def describe_commands(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command without a description of its own its one-line help as one,
    so `kiosk X --help` always says what X does (a test walks every command)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            text = helps.get(name)
            if not sub.description and text:
                sub.description = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
            describe_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `kiosk` command; without `argv` (the `kiosk` script, `python -m kiosk.cli`)
    the command is the whole process and ends it."""
    process = argv is None
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
    code = run_handler(args)
    if process:
        # The interpreter's last act is a full garbage collection over every object the
        # command loaded (numpy, OpenCV, ORT: ~100 ms of a 0.5 s `kiosk compare`) though
        # the process is about to hand all its memory back at once. Frozen objects are
        # left out of it; files still close and atexit handlers still run.
        gc.freeze()
        if getattr(args, "exit_at_once", False):
            # A command that writes nothing but its answer (compare) skips the rest of
            # the interpreter's teardown too: unloading numpy, OpenCV and ORT module by
            # module, ~40 ms. Its threads end first, as at a normal exit (the recogniser
            # may still be opening when a photo without a face ends compare early), and
            # its answer is flushed; nothing else is pending.
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def run_handler(args: argparse.Namespace) -> int:
    """The command's exit code; a KioskError or a damaged database is one line, code 2."""
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
