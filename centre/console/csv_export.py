"""CSV for spreadsheets, with formula injection defused.

A cell that starts with = + - @ (or a tab / carriage return) is run as a formula by
Excel and LibreOffice. Proctor ids, rooms and reason codes come from kiosks, so each such
cell is prefixed with a single quote (OWASP's recommendation), which shows the text as is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
