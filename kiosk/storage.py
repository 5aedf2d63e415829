"""Durable files and SQLite databases on the kiosk's disk: one way to write each.

Why one module: a kiosk loses power mid-write (a kicked plug, a drained UPS). A key file,
a camera pin or a stored roster must then read as the old or the new version, never as
half of one or as an empty file, and a committed ledger row must survive. That needs the
file fsync'd before the rename *and* the directory fsync'd after it; forgetting either
step is invisible until the power cut, so every writer goes through here.

Stdlib only, so any package (ledger, camera, sync, checkin) may use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
DEFAULT_BUSY_TIMEOUT_MS = 10_000
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def fsync_dir(path: Path) -> None:
    """Make a rename, link or unlink inside `path` durable (POSIX keeps it in the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    """A fsync'd sibling temp file holding `data` with exactly `mode` (same filesystem as
    `path`, so the rename that follows is atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed it
    return tmp


@contextlib.contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_file` (created 0600) across processes:
    the door, the sync loop and a CLI command may all write the same files."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace `path` with `data` so a reader (or a reboot) sees the old or the new file,
    never half of one: temp file in the same directory, fsync, rename, fsync the directory.
    """
    path = Path(path)
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(
    path: Path, text: str, mode: int = PRIVATE_FILE_MODE, *, encoding: str = "utf-8"
) -> None:
    """`atomic_write_bytes` for text."""
    atomic_write_bytes(path, text.encode(encoding), mode)


def create_once_bytes(path: Path, data: bytes, mode: int = PRIVATE_FILE_MODE) -> bool:
    """Create `path` holding `data` only if it is absent; True if this call created it.

    Race-safe across processes (a hard link fails if the name exists), and a reader never
    sees the file before its content is complete and durable.
    """
    path = Path(path)
    tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return created


def replace_durably(source: Path, target: Path) -> None:
    """Rename `source` over `target` (same directory) and make the rename durable."""
    os.replace(source, target)
    fsync_dir(Path(target).parent)


def open_sqlite(
    path: Path,
    *,
    synchronous: str = "FULL",
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    check_same_thread: bool = True,
    wal: bool = True,
) -> sqlite3.Connection:
    """Open (creating if needed) a SQLite database the kiosk way.

    The file is created owner-only (0600) in an owner-only directory (0700 when created
    here): ledgers, proctor hashes and template vaults are nobody else's business. WAL
    lets a reader (the UI) and a writer (sync) work at once; ``synchronous=FULL`` makes a
    committed transaction survive power loss; the busy timeout makes a second process
    wait rather than fail. The connection is in autocommit mode (``isolation_level=None``):
    callers issue ``BEGIN IMMEDIATE`` themselves. Raises ``sqlite3.DatabaseError`` when
    the file is not a database or WAL cannot be enabled.
    """
    level = synchronous.upper()
    if level not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if wal:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.DatabaseError(f"cannot switch {path} to WAL mode ({mode})")
        conn.execute(f"PRAGMA synchronous={level}")
    except BaseException:
        conn.close()
        raise
    return conn


def loose_paths(root: Path) -> list[Path]:
    """Every file or folder under `root` (itself included) that group or others can use:
    what a start-up check refuses (kiosk/owner_only.py, centre/app.py)."""
    root = Path(root)
    found: list[Path] = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) if name == "." else Path(dirpath) / name
            try:
                mode = p.lstat().st_mode
            except FileNotFoundError:
                continue
            if not stat.S_ISLNK(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
                found.append(p)
    return sorted(set(found))


def describe_loose(root: Path, loose: list[Path]) -> str:
    """One sentence naming (up to five of) `loose` and the command that fixes them."""
    shown = ", ".join(f"{p} ({stat.S_IMODE(p.lstat().st_mode):o})" for p in loose[:5])
    more = f" and {len(loose) - 5} more" if len(loose) > 5 else ""
    return f"other accounts can read {shown}{more}; run `chmod -R go-rwx {root}`"


__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "atomic_write_bytes",
    "atomic_write_text",
    "create_once_bytes",
    "describe_loose",
    "exclusive_lock",
    "fsync_dir",
    "loose_paths",
    "open_sqlite",
    "replace_durably",
]
