"""Bar charts of override rates as geometry for an SVG drawn by the template.

Server-side SVG keeps the console free of script (the CSP forbids it) and makes the chart
part of the page a screenshot or a printout captures. The alert threshold is a dashed
vertical line; a bar past it is drawn in the alert colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_W = 150
BAR_AREA_W = 420
VALUE_W = 90
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

    @property
    def ticks(self) -> list[tuple[float, str]]:
        return [
            (LABEL_W + BAR_AREA_W * f, f"{self.scale_max * f:.0%}") for f in (0, 0.25, 0.5, 0.75, 1)
        ]


def rate_chart(
    rows: Sequence[tuple[str, float, str, bool, str | None]], threshold: float, limit: int = 30
) -> RateChart:
    """rows: (label, rate, detail, flagged, link); the highest rates first, at most `limit`."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))[:limit]
    top_rate = max([r[1] for r in ordered] + [threshold * 1.5, 0.01])
    # Round the scale up to a tidy 5 % step so tick labels read as whole percentages.
    scale_max = min(1.0, -(-top_rate // 0.05) * 0.05) if top_rate <= 1 else top_rate
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
    )
