"""Compose a bystander pair list from a portrait folder with identities.csv.

python scripts/make_bystander_pairs.py /work/shared/faces OUT_DIR
kiosk eval OUT_DIR/pairs.csv --images OUT_DIR --face centre   (then --face largest)
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.evaluation.bystander_set import build_bystander_set
from kiosk.evaluation.pairs import read_identities


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    faces, out = Path(argv[0]), Path(argv[1])
    path = build_bystander_set(faces, read_identities(faces / "identities.csv"), out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
