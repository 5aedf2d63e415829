"""`kiosk proctor add|list|unlock|set-pin`: the accounts `kiosk run` signs proctors in with.

PINs never appear on the command line (they would sit in shell history and in `ps`):
they are asked with getpass, or read one per line from standard input with
``--pin-stdin`` (provisioning scripts). Changing someone's access needs an admin's id and
PIN, checked against the same directory with the same lockout as at the door:
`unlock` and `set-pin` always, and `add` as soon as the directory has an admin, because
otherwise anyone with a shell could add their own admin and unlock anybody. While no
admin exists, `add` is open so the first one can be created.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kiosk.config import load_config
from kiosk.errors import PolicyViolation

# Only the parser is built at import (`kiosk --help` loads every command module); the
# handlers import the proctor directory, which pulls in cryptography and the ledger.
if TYPE_CHECKING:
    from kiosk.checkin.proctor import ProctorAccount, ProctorDirectory

log = logging.getLogger(__name__)
# The values of kiosk.checkin.proctor.ProctorRole (tests/test_proctor_cmd.py holds them equal).
ROLE_CHOICES = ("proctor", "technician", "admin")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proctor", help="proctor, technician and admin accounts at this kiosk")
    psub = p.add_subparsers(dest="proctor_command", required=True)

    add = psub.add_parser(
        "add", allow_abbrev=False, help="create an account (needs an admin once one exists)"
    )
    add.add_argument("proctor_id", help="sign-in id: letters, digits, . _ -")
    add.add_argument("--name", required=True, help="full name, shown in the panel and reports")
    add.add_argument(
        "--role",
        choices=ROLE_CHOICES,
        default="proctor",
        help="proctor: sessions and overrides; technician: calibration; admin: accounts",
    )
    _admin_options(add, required=False)
    add.set_defaults(handler=_add)

    psub.add_parser("list", help="accounts, roles and current lockouts").set_defaults(handler=_list)

    unlock = psub.add_parser("unlock", allow_abbrev=False, help="end a PIN lockout early (admin)")
    unlock.add_argument("proctor_id", help="the locked-out account's sign-in id")
    _admin_options(unlock, required=True)
    unlock.set_defaults(handler=_unlock)

    set_pin = psub.add_parser(
        "set-pin", allow_abbrev=False, help="give an account a new PIN (admin)"
    )
    set_pin.add_argument("proctor_id", help="the account's sign-in id")
    _admin_options(set_pin, required=True)
    set_pin.set_defaults(handler=_set_pin)


def _admin_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    # The parsers take no abbreviations: "--pin 1234" must be refused as unknown, not
    # read as "--pin-stdin" with a stray PIN.
    p.add_argument("--admin", required=required, metavar="ADMIN_ID", help="an admin's id")
    p.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read PINs from standard input, one per line: the admin's PIN first, then "
        "the new PIN (no confirmation); default: asked on the terminal",
    )


class PinReader:
    """Where PINs come from: stdin lines (``--pin-stdin``) or hidden terminal prompts."""

    def __init__(self, from_stdin: bool, prompt: Callable[[str], str] | None = None) -> None:
        self.from_stdin, self._prompt_fn = from_stdin, prompt

    def _prompt(self, text: str) -> str:
        # Looked up per call (not bound as a default) so a test can stand in for the terminal.
        return (self._prompt_fn or getpass.getpass)(text)

    def _line(self, what: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise PolicyViolation(f"--pin-stdin: no line for the {what} on standard input")
        return line.rstrip("\r\n")

    def existing(self, who: str) -> str:
        if self.from_stdin:
            return self._line(f"PIN of {who}")
        return self._prompt(f"PIN of {who}: ")

    def new(self, who: str) -> str:
        """A new PIN, checked against the policy before anything is asked twice."""
        from kiosk.checkin.proctor import check_pin_policy

        if self.from_stdin:
            pin = self._line(f"new PIN for {who}")
            check_pin_policy(pin)
            return pin
        pin = self._prompt(f"new PIN for {who} (4-8 digits): ")
        check_pin_policy(pin)
        if self._prompt("the same PIN again: ") != pin:
            raise PolicyViolation("the two PINs differ; nothing was changed")
        return pin


@contextmanager
def _directory(args: argparse.Namespace) -> Iterator[ProctorDirectory]:
    from kiosk.checkin.proctor import open_proctor_directory
    from kiosk.ledger.keys import DeviceKeys

    cfg = load_config(args.config)
    directory = open_proctor_directory(cfg, DeviceKeys.for_config(cfg))
    try:
        yield directory
    finally:
        directory.close()


def _admin(directory: ProctorDirectory, admin_id: str, pins: PinReader) -> ProctorAccount:
    """Authenticate `admin_id` (wrong PINs count towards its lockout) and require admin."""
    from kiosk.checkin.proctor import ProctorRole, require_role

    account = directory.authenticate(admin_id, pins.existing(admin_id))
    require_role(account, ProctorRole.ADMIN)
    return account


def _add(args: argparse.Namespace) -> int:
    from kiosk.checkin.proctor import ProctorRole

    pins = PinReader(args.pin_stdin)
    with _directory(args) as directory:
        admins = [a for a in directory.list() if a.role is ProctorRole.ADMIN]
        by = "first admin bootstrap"
        if admins or args.admin:
            if not args.admin:
                raise PolicyViolation(
                    "this kiosk has an admin: pass --admin ADMIN_ID to add an account"
                )
            by = _admin(directory, args.admin, pins).proctor_id
        elif args.role != ProctorRole.ADMIN.value:
            log.warning("no admin account yet: nobody will be able to unlock or reset PINs")
        account = directory.add(args.proctor_id, args.name, args.role, pins.new(args.proctor_id))
    log.info("proctor account %s (%s) added by %s", account.proctor_id, account.role, by)
    print(f"added {account.role.value} {account.proctor_id} ({account.name})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from kiosk.protocol.canonical import format_ts

    with _directory(args) as directory:
        accounts, locked = directory.list(), directory.locked_until()
        path = directory.path
    if not accounts:
        print(f"no accounts in {path}: add one with `kiosk proctor add ID --name ... --role admin`")
        return 0
    for a in accounts:
        note = (
            f"  locked out until {format_ts(locked[a.proctor_id])}"
            if a.proctor_id in locked
            else ""
        )
        print(f"{a.proctor_id:<20} {a.role.value:<11} {a.name}{note}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    with _directory(args) as directory:
        target = directory.get(args.proctor_id)  # unknown id: a clear error, not a no-op
        admin = _admin(directory, args.admin, PinReader(args.pin_stdin))
        directory.unlock(target.proctor_id)
    log.warning("proctor %s unlocked by admin %s", target.proctor_id, admin.proctor_id)
    print(f"unlocked {target.proctor_id}")
    return 0


def _set_pin(args: argparse.Namespace) -> int:
    pins = PinReader(args.pin_stdin)
    with _directory(args) as directory:
        target = directory.get(args.proctor_id)
        admin = _admin(directory, args.admin, pins)
        directory.set_pin(target.proctor_id, pins.new(target.proctor_id))
    log.warning("PIN of proctor %s reset by admin %s", target.proctor_id, admin.proctor_id)
    print(f"new PIN set for {target.proctor_id} (any lockout cleared)")
    return 0
