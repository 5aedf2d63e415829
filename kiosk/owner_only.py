"""Files the kiosk writes are readable by its own account only (0600 files, 0700 folders).

Why: the data folder holds PIN hashes (``proctors.sqlite``), names and full IINs
(``rosters.sqlite``), encrypted templates and the signed ledger. On a shared machine a
0644 file is an offline copy for any other account. So:

* the ``kiosk`` command sets the process umask to 077 at start-up (`restrict_umask`), so
  every file any command writes is owner-only (an ``enroll --out`` file, a plot, a
  calibration file), not only the databases `kiosk.storage.open_sqlite` creates 0600;
* the door checks the data folder at start-up and refuses, naming the files, if any has
  been loosened since (`check_owner_only_tree`).
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.errors import FilePermissionsLoose
from kiosk.storage import PRIVATE_DIR_MODE, describe_loose, loose_paths


def restrict_umask() -> None:
    """From here on, new files are 0600 and new folders 0700 for this process."""
    os.umask(0o077)


def owner_only_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as owner-only folders; return it. An existing
    folder is left as it is: loosened modes are reported by `check_owner_only_tree`."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, PRIVATE_DIR_MODE)  # the umask may have narrowed it; never wider
    return path


def check_owner_only_tree(root: Path) -> None:
    """Raise FilePermissionsLoose naming what under `root` other accounts can read."""
    loose = loose_paths(root)
    if loose:
        raise FilePermissionsLoose(f"refusing to start: {describe_loose(root, loose)}")


__all__ = ["check_owner_only_tree", "loose_paths", "owner_only_dir", "restrict_umask"]
