"""Pair lists in and scored pairs out: the files `kiosk eval` reads and writes.

A pair list is `image_a,image_b,same_person` with labels 1 (same person) and 0
(different people) only. Parsing is strict because every loose rule bends the figures
silently: a typo'd label read as "impostor" adds an easy impostor pair, a repeated pair
counts one comparison twice, and an image paired with itself is a free genuine match.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.evaluation.evaluation import EvalResult, Pair

HEADER = ("image_a", "image_b", "same_person")
LABELS = {"1": True, "0": False}


class PairListError(KioskError):
    """A pair list or identities file that cannot be evaluated as written; the message
    names the file and line."""

    code = "pair_list_invalid"


def read_pairs(path: Path) -> list[Pair]:
    """Read a pair list; `PairListError` names the first bad line.

    Blank lines and lines starting with `#` are skipped; the first other line may be the
    header `image_a,image_b,same_person` and nothing else is taken for a header.
    """
    pairs: list[Pair] = []
    seen: dict[frozenset[str], int] = {}
    first = True
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for line_no, row in enumerate(csv.reader(fh), 1):
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                cells = [c.strip() for c in row]
                if first and tuple(c.lower() for c in cells) == HEADER:
                    first = False
                    continue
                first = False
                if len(cells) != 3:
                    raise PairListError(
                        f"{path}:{line_no}: expected 3 columns image_a,image_b,same_person, "
                        f"found {len(cells)}"
                    )
                a, b, label = cells
                if label not in LABELS:
                    raise PairListError(
                        f"{path}:{line_no}: same_person must be 1 or 0, not {label!r}"
                    )
                if not a or not b:
                    raise PairListError(f"{path}:{line_no}: an image name is empty")
                if a == b:
                    raise PairListError(f"{path}:{line_no}: {a} is paired with itself")
                key = frozenset((a, b))
                if key in seen:
                    raise PairListError(
                        f"{path}:{line_no}: {a},{b} repeats the pair on line {seen[key]}"
                    )
                seen[key] = line_no
                pairs.append(Pair(a, b, LABELS[label]))
    except FileNotFoundError:
        raise PairListError(f"{path}: no such pairs file") from None
    except UnicodeDecodeError:
        raise PairListError(f"{path}: not a UTF-8 text file") from None
    if not pairs:
        raise PairListError(f"{path}: no pairs")
    return pairs


def read_identities(path: Path) -> dict[str, str]:
    """`image,person` rows (header optional) -> {image: person}."""
    people: dict[str, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for line_no, row in enumerate(csv.reader(fh), 1):
                cells = [c.strip() for c in row]
                if not cells or not "".join(cells) or cells[0].startswith("#"):
                    continue
                if line_no == 1 and [c.lower() for c in cells] == ["image", "person"]:
                    continue
                if len(cells) != 2 or not all(cells):
                    raise PairListError(f"{path}:{line_no}: expected image,person")
                if people.get(cells[0], cells[1]) != cells[1]:
                    raise PairListError(f"{path}:{line_no}: {cells[0]} has two people")
                people[cells[0]] = cells[1]
    except FileNotFoundError:
        raise PairListError(f"{path}: no such identities file") from None
    return people


def write_pairs(path: Path, rows: Iterable[tuple[str, str, int]]) -> None:
    """A pair list `read_pairs` takes: `(image_a, image_b, 1 or 0)` rows under HEADER."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


def write_identities(path: Path, rows: Iterable[tuple[str, str]]) -> None:
    """An identities file `read_identities` takes: `(image, person)` rows, with header."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "person"])
        w.writerows(rows)


def write_pair_csv(result: EvalResult, threshold: float, path: Path) -> None:
    """Every pair with its score and the decision at `threshold` (`fta`: no face)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, "score", "decision"])
        for s in result.scores:
            decision = (
                "fta" if s.score is None else ("match" if s.score >= threshold else "no_match")
            )
            w.writerow(
                [
                    s.pair.a,
                    s.pair.b,
                    int(s.pair.same),
                    "" if s.score is None else f"{s.score:.6f}",
                    decision,
                ]
            )
