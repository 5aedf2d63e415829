"""Engine, sessions and migrations.

Migrations are the only way the schema is created (never `create_all`), so a SQLite test
database and a production PostgreSQL one go through exactly the same steps.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from centre.core.config import CentreSettings

log = logging.getLogger(__name__)

CENTRE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = CENTRE_DIR / "alembic.ini"


def make_engine(settings: CentreSettings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        # Owner-only: the database holds records and (sealed) rosters; SQLite gives its
        # -wal and -shm files the database file's mode.
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        db_file = url.removeprefix("sqlite:///")
        if db_file and db_file != ":memory:" and not Path(db_file).exists():
            os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # WAL lets reports read while ingest writes; FULL so an acked record
            # survives power loss.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA secure_delete=ON")  # a purged roster leaves no old pages
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(CENTRE_DIR / "migrations"))
    # '%' is ConfigParser interpolation; URLs may contain escaped characters.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(settings: CentreSettings, engine: Engine | None = None, revision: str = "head") -> None:
    """`alembic upgrade head` on the configured database (idempotent)."""
    from alembic import command

    cfg = alembic_config(settings.database_url)
    if engine is None:
        engine = make_engine(settings)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    log.info(
        "centre database at %s is at %s", engine.url.render_as_string(hide_password=True), revision
    )
