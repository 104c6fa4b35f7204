"""Server-side charts as inline SVG: horizontal bars and a line/area time series.

No JavaScript and no third-party code (the dashboard's CSP allows neither inline scripts nor
other origins). Each chart carries a ``<title>`` and ``<desc>`` and is ``role="img"``; the
templates put a table of the same figures beside it for screen readers and text browsers.
Colours come from classes in ``app.css`` (``chart-*``); attributes only, no ``style=``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_HEIGHT = 22
LABEL_WIDTH = 180
BAR_WIDTH = 320
SERIES_WIDTH = 640
SERIES_HEIGHT = 180


@dataclass(frozen=True)
class Line:
    """One series of a time chart: its name, values (one per bucket) and CSS class."""

    name: str
    values: Sequence[float]
    css: str


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )


def bars(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float]],
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Markup:
    """Horizontal bars, one per ``(label, value)``, scaled to the largest value."""
    if not items:
        return Markup("")
    top = max(value for _, value in items) or 1.0
    height = BAR_HEIGHT * len(items) + 4
    width = LABEL_WIDTH + BAR_WIDTH + 90
    desc = "; ".join(f"{label}: {fmt(value)}" for label, value in items)
    parts = [_open(chart_id, title, desc, width, height)]
    for i, (label, value) in enumerate(items):
        y = i * BAR_HEIGHT + 2
        length = max(1.0, BAR_WIDTH * value / top) if value > 0 else 0.0
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(
            f'<text class="chart-label" x="{LABEL_WIDTH - 6}" y="{y + 15}" '
            f'text-anchor="end">{escape(short)}</text>'
            f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 3}" '
            f'width="{length:.1f}" height="{BAR_HEIGHT - 6}"></rect>'
            f'<text class="chart-value" x="{LABEL_WIDTH + length + 6:.1f}" '
            f'y="{y + 15}">{escape(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every interpolated text is escaped above


def _points(values: Sequence[float], top: float, width: int, height: int) -> list[str]:
    step = width / max(1, len(values) - 1)
    return [f"{i * step:.1f},{height - height * v / top:.1f}" for i, v in enumerate(values)]


def series(chart_id: str, title: str, lines: Sequence[Line], axis: tuple[str, str]) -> Markup:
    """A time series: the first line drawn as an area, the others as lines; ``axis`` holds
    the labels of the first and last bucket."""
    if not lines or not lines[0].values:
        return Markup("")
    top = max(max(line.values, default=0) for line in lines) or 1.0
    w, h, pad = SERIES_WIDTH, SERIES_HEIGHT, 20
    desc = "; ".join(f"{line.name}: total {sum(line.values):g}" for line in lines)
    parts = [_open(chart_id, title, desc, w + 2 * pad, h + 2 * pad)]
    parts.append(f'<g transform="translate({pad},{pad})">')
    parts.append(f'<line class="chart-axis" x1="0" y1="{h}" x2="{w}" y2="{h}"></line>')
    parts.append(f'<text class="chart-value" x="0" y="-6">max {top:g}</text>')
    for i, line in enumerate(lines):
        points = _points(line.values, top, w, h)
        if i == 0:
            area = " ".join([f"0,{h}", *points, f"{w},{h}"])
            parts.append(f'<polygon class="{line.css} chart-area" points="{area}"></polygon>')
        parts.append(
            f'<polyline class="{line.css} chart-line" points="{" ".join(points)}"></polyline>'
        )
    parts.append(
        f'<text class="chart-value" x="0" y="{h + 16}">{escape(axis[0])}</text>'
        f'<text class="chart-value" x="{w}" y="{h + 16}" text-anchor="end">'
        f"{escape(axis[1])}</text></g></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 -- every interpolated text is escaped above
