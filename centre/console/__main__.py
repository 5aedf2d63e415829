"""`python -m centre.console set-password NAME`: give a staff user a console password.

The first administrator needs a password before anyone can sign in to set others'; this is
that first step (the user itself comes from `kiosk centre add-user`). The password is read
from the terminal without echo, or from standard input when it is not a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from centre.errors import CentreError


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("new console password: ")
        if getpass.getpass("again: ") != first:
            raise CentreError("the two passwords differ", code="password_mismatch")
        return first
    return sys.stdin.readline().rstrip("\n")


def set_password_command(name: str, config: str | None = None) -> str:
    from centre.core.config import CentreSettings
    from centre.crud.console_auth import set_password
    from centre.crud.staff_admin import user_by_name
    from centre.db import make_engine, migrate, session_factory

    settings = CentreSettings.load(config)
    engine = make_engine(settings)
    try:
        migrate(settings, engine)
        with session_factory(engine)() as db:
            user = user_by_name(db, name)
            set_password(db, user, _read_password())
            db.commit()
            return f"console password set for {user.name} ({user.role}); their sessions ended"
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m centre.console")
    parser.add_argument("--config", help="kiosk/centre TOML config (default: the usual search)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("set-password", help="set a staff user's console password").add_argument("name")
    args = parser.parse_args(argv)
    try:
        print(set_password_command(args.name, args.config))
    except CentreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
