"""Strict pair lists: every line is a pair or is refused with its line number.

On the old reader "img1.jpg,img2.jpg,yes" on line 1 was dropped as a header, any label
other than 1/true/yes became an impostor pair, and repeated and self pairs passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.evaluation.evaluation import Pair
from kiosk.evaluation.pairs import (
    PairListError,
    read_identities,
    read_pairs,
    write_identities,
    write_pairs,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_header_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path, "# dev split\nimage_a,image_b,same_person\n\na.jpg,b.jpg,1\na.jpg,c.jpg,0\n"
    )
    assert read_pairs(path) == [Pair("a.jpg", "b.jpg", True), Pair("a.jpg", "c.jpg", False)]


def test_first_data_row_is_never_taken_for_a_header(tmp_path: Path) -> None:
    with pytest.raises(PairListError, match=r"pairs.csv:1: same_person must be 1 or 0, not 'yes'"):
        read_pairs(write(tmp_path, "a.jpg,b.jpg,yes\na.jpg,c.jpg,0\n"))


@pytest.mark.parametrize("label", ["true", "2", "-1", "", "same", "1.0"])
def test_labels_other_than_0_and_1_are_refused(tmp_path: Path, label: str) -> None:
    with pytest.raises(PairListError, match=r":2: same_person must be 1 or 0"):
        read_pairs(write(tmp_path, f"a.jpg,b.jpg,1\na.jpg,c.jpg,{label}\n"))


def test_repeated_pair_in_either_order_is_refused(tmp_path: Path) -> None:
    text = "image_a,image_b,same_person\na.jpg,b.jpg,1\nc.jpg,d.jpg,0\nb.jpg,a.jpg,1\n"
    with pytest.raises(PairListError, match=r":4: b.jpg,a.jpg repeats the pair on line 2"):
        read_pairs(write(tmp_path, text))


def test_self_pair_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PairListError, match=r":2: a.jpg is paired with itself"):
        read_pairs(write(tmp_path, "a.jpg,b.jpg,0\na.jpg,a.jpg,1\n"))


def test_wrong_column_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PairListError, match=r":1: expected 3 columns .* found 2"):
        read_pairs(write(tmp_path, "a.jpg,1\n"))


def test_missing_and_empty_lists(tmp_path: Path) -> None:
    with pytest.raises(PairListError, match="no such pairs file"):
        read_pairs(tmp_path / "nope.csv")
    with pytest.raises(PairListError, match="no pairs"):
        read_pairs(write(tmp_path, "image_a,image_b,same_person\n"))


def test_published_list_reads_whole(data_dir: Path) -> None:
    pairs = read_pairs(data_dir / "pairs" / "pairs.csv")
    assert (len(pairs), sum(p.same for p in pairs)) == (520, 140)


def test_identities(tmp_path: Path) -> None:
    path = tmp_path / "identities.csv"
    path.write_text("image,person\na.jpg,ann\nb.jpg,ann\nc.jpg,bob\n")
    assert read_identities(path) == {"a.jpg": "ann", "b.jpg": "ann", "c.jpg": "bob"}
    path.write_text("a.jpg,ann\na.jpg,bob\n")
    with pytest.raises(PairListError, match=r":2: a.jpg has two people"):
        read_identities(path)


def test_what_the_writers_write_the_readers_read(tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs.csv", [("a.jpg", "b.jpg", 1), ("a.jpg", "c.jpg", 0)])
    write_identities(tmp_path / "identities.csv", [("a.jpg", "p1"), ("c.jpg", "p2")])
    assert read_pairs(tmp_path / "pairs.csv") == [
        Pair("a.jpg", "b.jpg", True),
        Pair("a.jpg", "c.jpg", False),
    ]
    assert read_identities(tmp_path / "identities.csv") == {"a.jpg": "p1", "c.jpg": "p2"}
    first = (tmp_path / "pairs.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first == "image_a,image_b,same_person"
