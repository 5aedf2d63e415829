"""One place for the fuzzers' budget (imported by tests/test_fuzz_*.py; no tests here).

Every property runs a fixed number of examples, derandomised, so a CI run is reproducible
and never fails by chance: what it checks is the same each time. ``FUZZ_SCALE`` multiplies
the budgets (CI's separate fuzz step uses 4); ``FUZZ_RANDOM=1`` draws fresh examples (and
keeps failures in the local .hypothesis database) for a longer exploratory run:

    FUZZ_SCALE=20 FUZZ_RANDOM=1 python -m pytest tests/test_fuzz_*.py
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a property that should see `examples` inputs per run."""
    try:
        scale = float(os.environ.get("FUZZ_SCALE", "1"))
    except ValueError:
        scale = 1.0
    explore = os.environ.get("FUZZ_RANDOM") == "1"
    return settings(
        max_examples=max(1, round(examples * scale)),
        deadline=None,
        derandomize=not explore,
        database=settings.default.database if explore else None,
        suppress_health_check=list(HealthCheck),
    )


def json_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and list indices) into a JSON document, the root first."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_paths(v, (*prefix, i))
    return out


def json_replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced (the original is untouched)."""
    if not path:
        return value
    head, *rest = path
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = json_replace(doc[head], tuple(rest), value)
    return copy
