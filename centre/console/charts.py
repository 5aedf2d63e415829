"""Bar charts of override rates as geometry for an SVG drawn by the template.

Server-side SVG keeps the console free of script (the CSP forbids it) and makes the chart
part of the page a screenshot or a printout captures. The alert threshold is a dashed
vertical line; a bar past it is drawn in the alert colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LABEL_W = 130
BAR_AREA_W = 360
VALUE_W = 110
# Tick steps that read as whole percentages; the first giving at most 5 intervals wins.
TICK_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)
ROW_H = 22
TOP = 24


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # a rate, 0..1
    detail: str  # e.g. "4 / 10"
    y: float
    width: float
    flagged: bool
    href: str | None


@dataclass(frozen=True)
class RateChart:
    bars: list[Bar]
    threshold: float
    threshold_x: float
    width: int
    height: int
    scale_max: float
    label_w: int = LABEL_W
    bar_area_w: int = BAR_AREA_W
    row_h: int = ROW_H
    top: int = TOP

    tick_step: float = 0.1

    @property
    def ticks(self) -> list[tuple[float, str]]:
        n = round(self.scale_max / self.tick_step)
        return [(LABEL_W + BAR_AREA_W * i / n, f"{i * self.tick_step:.0%}") for i in range(n + 1)]


def _scale(top_rate: float) -> tuple[float, float]:
    """(scale maximum, tick step): the smallest tidy scale that holds `top_rate`."""
    for step in TICK_STEPS:
        intervals = max(math.ceil(top_rate / step - 1e-9), 1)
        if intervals <= 5:
            return intervals * step, step
    return 1.0, 0.25


def rate_chart(
    rows: Sequence[tuple[str, float, str, bool, str | None]], threshold: float, limit: int = 30
) -> RateChart:
    """rows: (label, rate, detail, flagged, link); the highest rates first, at most `limit`."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))[:limit]
    top_rate = min(max([r[1] for r in ordered] + [threshold * 1.5, 0.01]), 1.0)
    scale_max, step = _scale(top_rate)
    bars = [
        Bar(
            label=label[:22],
            value=rate,
            detail=detail,
            y=TOP + i * ROW_H,
            width=BAR_AREA_W * min(rate / scale_max, 1.0),
            flagged=flagged,
            href=href,
        )
        for i, (label, rate, detail, flagged, href) in enumerate(ordered)
    ]
    return RateChart(
        bars=bars,
        threshold=threshold,
        threshold_x=LABEL_W + BAR_AREA_W * min(threshold / scale_max, 1.0),
        width=LABEL_W + BAR_AREA_W + VALUE_W,
        height=TOP + max(len(bars), 1) * ROW_H + 8,
        scale_max=scale_max,
        tick_step=step,
    )
