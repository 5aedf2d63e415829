"""JSON parsing with a nesting limit, for every document the kiosk or the centre reads.

`json.loads` recurses once per nesting level, so a body of 100,000 ``[`` ends in a
`RecursionError` (a traceback, or a 500) instead of a refusal; and a document that parses
but nests hundreds deep is never something the protocol produces. Every record, roster,
key file and API body the project defines nests fewer than ten levels, so `MAX_DEPTH` is
generous and anything deeper is refused as malformed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32


class JsonNestingError(ValueError):
    """A JSON document nests deeper than allowed. A `ValueError`, so every caller that
    already turns malformed JSON into its own error type (`RosterError`, a 400, ...)
    treats it the same way."""


def _depth_exceeds(doc: Any, max_depth: int) -> bool:
    # Iterative, so checking a deep document cannot itself overflow the stack.
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads_bounded(
    data: object,
    *,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads`, but a document nested deeper than `max_depth` arrays/objects raises
    `JsonNestingError` (and so does one deep enough to exhaust the parser's recursion)."""
    if not isinstance(data, str | bytes | bytearray):
        # json.loads raises TypeError here; a missing value is malformed input, not a bug.
        got = "nothing" if data is None else f"a {type(data).__name__}"
        raise ValueError(f"expected JSON text, got {got}")
    try:
        doc = json.loads(data, object_pairs_hook=object_pairs_hook, parse_constant=parse_constant)
    except RecursionError:
        raise JsonNestingError(f"JSON nests deeper than {max_depth} levels") from None
    if _depth_exceeds(doc, max_depth):
        raise JsonNestingError(f"JSON nests deeper than {max_depth} levels")
    return doc


__all__ = ["MAX_DEPTH", "JsonNestingError", "loads_bounded"]
