"""Every pair of an `image,person` identities list as `image_a,image_b,same_person`.

The published pairs.csv of ../shared/faces has 380 impostor pairs, too few to place a
threshold for FMR 1e-3; all 1,830 pairs of its 61 portraits give 1,690.

    python benchmarks/make_pairs.py ../shared/faces/identities.csv runs/all_pairs.csv
"""

import csv
import itertools
import sys
from pathlib import Path


def main(src: Path, dst: Path) -> None:
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image_a", "image_b", "same_person"])
        for a, b in itertools.combinations(rows, 2):
            w.writerow([a["image"], b["image"], int(a["person"] == b["person"])])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
