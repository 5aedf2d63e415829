"""kiosk/storage.py: the one atomic writer and the one SQLite opener, on a real disk."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from kiosk.storage import atomic_write_bytes, atomic_write_text, create_once_bytes, open_sqlite


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_content_with_the_requested_mode(tmp_path: Path) -> None:
    target = tmp_path / "pin.json"
    atomic_write_text(target, "old\n", 0o644)
    atomic_write_bytes(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pin.json"]  # no temp file left


def test_atomic_write_mode_ignores_a_wide_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write_text(tmp_path / "k", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k") == 0o600


def test_atomic_write_into_a_missing_directory_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "absent" / "f", b"x")
    assert list(tmp_path.iterdir()) == []


def test_create_once_creates_only_the_first_time(tmp_path: Path) -> None:
    target = tmp_path / "centre_key.pub"
    assert create_once_bytes(target, b"first", 0o644) is True
    assert create_once_bytes(target, b"second", 0o644) is False
    assert target.read_bytes() == b"first"
    assert _mode(target) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["centre_key.pub"]


def test_open_sqlite_is_wal_full_sync_private(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "db.sqlite"
    conn = open_sqlite(path, busy_timeout_ms=2500)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
        assert conn.isolation_level is None
    finally:
        conn.close()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_open_sqlite_synchronous_is_a_parameter(tmp_path: Path) -> None:
    conn = open_sqlite(tmp_path / "db", synchronous="normal")
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        conn.close()
    with pytest.raises(ValueError, match="synchronous must be one of"):
        open_sqlite(tmp_path / "db", synchronous="sometimes")


def test_open_sqlite_keeps_an_existing_file_and_refuses_a_non_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just forty bytes of text" * 4)
    with pytest.raises(sqlite3.DatabaseError):
        open_sqlite(junk)
    assert junk.read_bytes().startswith(b"this is not a database")


def test_every_kiosk_database_opens_wal_full_sync_owner_only(tmp_path: Path) -> None:
    """The four SQLite stores on a kiosk all go through open_sqlite."""
    from kiosk.checkin.proctor import ProctorDirectory
    from kiosk.checkin.roster_store import RosterStore
    from kiosk.ledger.keys import DeviceKeys
    from kiosk.ledger.store import LedgerStore
    from kiosk.ledger.vault import TemplateVault

    vault = TemplateVault(tmp_path / "vault.sqlite", b"k" * 32)
    stores = {
        "ledger.sqlite": LedgerStore(
            tmp_path / "ledger.sqlite", DeviceKeys.load_or_create(tmp_path)
        ),
        "vault.sqlite": vault,
        "proctors.sqlite": ProctorDirectory(tmp_path / "proctors.sqlite", pin_key=bytes(32)),
        "rosters.sqlite": RosterStore(tmp_path / "rosters.sqlite", vault),
    }
    try:
        for name, store in stores.items():
            conn = store._conn
            got = (
                conn.execute("PRAGMA journal_mode").fetchone()[0],
                conn.execute("PRAGMA synchronous").fetchone()[0],
                _mode(tmp_path / name),
            )
            assert got == ("wal", 2, 0o600), name
    finally:
        for store in stores.values():
            store.close()
