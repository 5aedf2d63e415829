"""`python -m centre` / `kiosk-centre`: run and administer the centre.

Sub-commands: serve, migrate, enroll-token, add-user, key. Heavy modules (uvicorn, the
app, SQLAlchemy models) are imported by the command that needs them. A `CodedError`
(a bad setting, a duplicate user, an unreadable key) ends as one line on stderr and exit
code 2, never a traceback. `kiosk centre …` hands its arguments to `main` here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kiosk.protocol.errors import CodedError

log = logging.getLogger(__name__)


def build_parser(prog: str = "kiosk-centre") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Exam-door kiosk centre service")
    parser.add_argument(
        "--config", help="TOML file with a [centre] table (default: CENTRE_CONFIG or KIOSK_CONFIG)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    csub = parser.add_subparsers(dest="centre_command", metavar="COMMAND", required=True)
    serve = csub.add_parser("serve", help="run the centre HTTP service (uvicorn)")
    serve.add_argument("--host", help="bind address (default: [centre] host)")
    serve.add_argument("--port", type=int, help="port (default: [centre] port)")
    serve.set_defaults(handler=_serve)
    migrate = csub.add_parser("migrate", help="create or upgrade the centre database schema")
    migrate.set_defaults(handler=_migrate)
    token = csub.add_parser("enroll-token", help="issue a one-time kiosk enrolment token")
    token.add_argument("--room", help="room the kiosk will serve")
    token.add_argument("--label", help="a note for the registry (e.g. door name)")
    token.add_argument("--ttl-hours", type=float, default=24.0, help="validity (default 24 h)")
    token.set_defaults(handler=_enroll_token)
    user = csub.add_parser("add-user", help="add a staff user and print their API key once")
    user.add_argument("name")
    user.add_argument("--role", required=True, choices=("viewer", "auditor", "admin"))
    user.set_defaults(handler=_add_user)
    key = csub.add_parser("key", help="print the centre's public key and key id")
    key.set_defaults(handler=_key)
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "kiosk-centre") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except CodedError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from centre.core.config import CentreSettings

    return CentreSettings.load(args.config)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from centre.app import create_app

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    log.info("serving the centre on http://%s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info" if args.verbose else "warning")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from centre.db import migrate

    settings = _settings(args)
    migrate(settings)
    print(f"centre database is up to date ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _with_db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from centre.db import make_engine, migrate, session_factory

    settings = _settings(args)
    engine = make_engine(settings)
    migrate(settings, engine)
    return settings, engine, session_factory(engine)


def _enroll_token(args: argparse.Namespace) -> int:
    from centre.crud.devices import create_enrolment_token

    _, engine, sessions = _with_db(args)
    with sessions() as db:
        row, token = create_enrolment_token(
            db, ttl_s=args.ttl_hours * 3600, room=args.room, label=args.label
        )
        db.commit()
    engine.dispose()
    print(token)
    print(
        f"(one-time; expires {row.expires_at.isoformat(timespec='minutes')}; on the kiosk run "
        "`kiosk sync enroll TOKEN`)"
    )
    return 0


def _add_user(args: argparse.Namespace) -> int:
    from centre.crud.users import add_user

    _, engine, sessions = _with_db(args)
    try:
        with sessions() as db:
            user, token = add_user(db, args.name, args.role)
            db.commit()
    finally:
        engine.dispose()
    print(token)
    print(f"(API key for {user.name}, role {user.role}; shown once, stored only as a hash)")
    return 0


def _key(args: argparse.Namespace) -> int:
    from centre.core.keys import CentreKey

    key = CentreKey.load_or_create(_settings(args).data_dir)
    print(key.public_key_b64())
    print(f"key id {key.key_id}")
    return 0


__all__ = ["build_parser", "main"]
