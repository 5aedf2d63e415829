"""Files the kiosk writes are readable by its own account only (0600 files, 0700 folders).

Why: the data folder holds PIN hashes (``proctors.sqlite``), names and full IINs
(``rosters.sqlite``), encrypted templates and the signed ledger. On a shared machine a
0644 file is an offline copy for any other account: a 4-digit PIN hash falls to a
brute force on one core in minutes, bypassing the door's lockout. So:

* the ``kiosk`` command sets the process umask to 077 at start-up (`restrict_umask`), so
  every file any command writes is owner-only, including SQLite's ``-wal``/``-shm``;
* the stores create their files owner-only themselves (`create_owner_only`), so a
  library caller that did not go through the command gets the same modes;
* the door checks the data folder at start-up and refuses, naming the files, if any has
  been loosened since (`check_owner_only_tree`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kiosk.errors import FilePermissionsLoose

FILE_MODE = 0o600
DIR_MODE = 0o700
_LOOSE = stat.S_IRWXG | stat.S_IRWXO


def restrict_umask() -> None:
    """From here on, new files are 0600 and new folders 0700 for this process."""
    os.umask(0o077)


def owner_only_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as owner-only folders; return it.

    An existing folder is left as it is: loosened modes are reported by
    `check_owner_only_tree`, never silently changed.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # the umask may have narrowed it further; never wider
    return path


def create_owner_only(path: Path) -> Path:
    """Make sure `path` exists as a 0600 file (an empty one when new) before a library
    (SQLite) opens it: SQLite gives its ``-wal`` and ``-shm`` files the database's mode."""
    path = Path(path)
    owner_only_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def loose_paths(root: Path) -> list[Path]:
    """Every file or folder under `root` (itself included) that group or others can use."""
    root = Path(root)
    found = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name if name != "." else Path(dirpath)
            try:
                mode = p.lstat().st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(mode):
                continue
            if mode & _LOOSE:
                found.append(p)
    return sorted(set(found))


def check_owner_only_tree(root: Path) -> None:
    """Raise FilePermissionsLoose naming what under `root` other accounts can read."""
    loose = loose_paths(root)
    if loose:
        shown = ", ".join(f"{p} ({stat.S_IMODE(p.lstat().st_mode):o})" for p in loose[:5])
        more = f" and {len(loose) - 5} more" if len(loose) > 5 else ""
        raise FilePermissionsLoose(
            f"refusing to start: other accounts can read {shown}{more}; "
            f"run `chmod -R go-rwx {root}`"
        )


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "check_owner_only_tree",
    "create_owner_only",
    "loose_paths",
    "owner_only_dir",
    "restrict_umask",
]
