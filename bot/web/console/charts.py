"""Chart geometry for inline SVG on the staff dashboard (no chart library, no CDN).

The functions turn values into coordinates in a fixed view box; the Jinja2 macros in
``templates/staff_charts.html`` draw them. A line chart breaks where a value is missing
(a day without turns has no rate); bars are grouped per label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28  # margins: y labels left, x labels below
MAX_X_LABELS = 8
Y_TICKS = 4


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # what a pointer over it says (SVG <title>)


@dataclass(frozen=True)
class LineSeries:
    name: str
    css_class: str
    segments: tuple[str, ...]    # SVG polyline points, one string per unbroken run
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str      # what a pointer over it says (SVG <title>)
    text: str = ""  # written after the bar (ranking charts)


@dataclass(frozen=True)
class Tick:
    position: float  # x for the x axis, y for the y axis
    text: str


@dataclass(frozen=True)
class Chart:
    """One chart: lines or bars in the plot box, ticks on both axes, a legend."""

    title: str
    lines: tuple[LineSeries, ...] = ()
    bars: tuple[Bar, ...] = ()
    x_ticks: tuple[Tick, ...] = ()
    y_ticks: tuple[Tick, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()  # (name, css class)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP

    @property
    def right(self) -> int:
        return self.width - RIGHT

    @property
    def bottom(self) -> int:
        return self.height - BOTTOM


def nice_maximum(value: float) -> float:
    """The axis top for a largest value: 1, 2 or 5 times a power of ten (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _y(value: float, top_value: float, chart_top: int, chart_bottom: int) -> float:
    return round(chart_bottom - (chart_bottom - chart_top) * value / top_value, 1)


def _x_ticks(labels: Sequence[str], x_of: Callable[[int], float]) -> tuple[Tick, ...]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return tuple(Tick(x_of(i), label) for i, label in enumerate(labels) if i % every == 0)


def _y_ticks(top_value: float, fmt: Callable[[float], str], chart_top: int, chart_bottom: int) -> tuple[Tick, ...]:
    return tuple(Tick(_y(top_value * i / Y_TICKS, top_value, chart_top, chart_bottom), fmt(top_value * i / Y_TICKS))
                 for i in range(Y_TICKS + 1))


def line_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]],
               fmt: Callable[[float], str] = lambda v: f"{v:g}", top_value: float | None = None) -> Chart:
    """Lines over ``labels`` (one value per label each; None breaks the line):
    ``series`` is (name, css class, values); the y axis runs from 0 to ``top_value``
    (default: a round number over the largest value)."""
    chart = Chart(title)
    values = [v for _, _, vs in series for v in vs if v is not None]
    top_value = top_value or nice_maximum(max(values, default=0.0))
    span = chart.right - chart.left

    def x_of(i: int) -> float:
        return round(chart.left + (span * i / (len(labels) - 1) if len(labels) > 1 else span / 2), 1)

    lines = []
    for name, css_class, vs in series:
        segments, run, points = [], [], []
        for i, value in enumerate(vs):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            x, y = x_of(i), _y(value, top_value, chart.top, chart.bottom)
            run.append(f"{x},{y}")
            points.append(Point(x, y, f"{labels[i]} {name} {fmt(value)}"))
        if run:
            segments.append(" ".join(run))
        lines.append(LineSeries(name, css_class, tuple(segments), tuple(points)))
    return Chart(title, lines=tuple(lines), x_ticks=_x_ticks(labels, x_of),
                 y_ticks=_y_ticks(top_value, fmt, chart.top, chart.bottom),
                 legend=tuple((name, css_class) for name, css_class, _ in series))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
              fmt: Callable[[float], str] = lambda v: f"{v:g}") -> Chart:
    """Bars grouped per label, one per series (name, css class, values)."""
    chart = Chart(title)
    top_value = nice_maximum(max((v for _, _, vs in series for v in vs), default=0.0))
    slot = (chart.right - chart.left) / max(1, len(labels))
    width = max(1.0, slot * 0.8 / max(1, len(series)))
    bars = []
    for i, label in enumerate(labels):
        for n, (name, css_class, vs) in enumerate(series):
            y = _y(vs[i], top_value, chart.top, chart.bottom)
            bars.append(Bar(round(chart.left + slot * i + slot * 0.1 + width * n, 1), y, round(width, 1),
                            round(chart.bottom - y, 1), css_class, f"{label} {name} {fmt(vs[i])}"))
    return Chart(title, bars=tuple(bars),
                 x_ticks=_x_ticks(labels, lambda i: round(chart.left + slot * (i + 0.5), 1)),
                 y_ticks=_y_ticks(top_value, fmt, chart.top, chart.bottom),
                 legend=tuple((name, css_class) for name, css_class, _ in series))


def ranking_chart(title: str, items: Sequence[tuple[str, float]], css_class: str = "bar-topic") -> Chart:
    """Horizontal bars, biggest first: one row per (label, value); labels at the left."""
    row, left = 26, 150
    height = TOP + BOTTOM + row * max(1, len(items))
    chart = Chart(title, width=WIDTH, height=height, left=left)
    top_value = max((value for _, value in items), default=0.0) or 1.0
    span = chart.right - left
    bars = tuple(Bar(left, TOP + row * i + 4, round(span * value / top_value * 0.9, 1), row - 8, css_class,
                     f"{label} {value:g}", f"{value:g}") for i, (label, value) in enumerate(items))
    return Chart(title, bars=bars, width=WIDTH, height=height, left=left,
                 y_ticks=tuple(Tick(TOP + row * i + row / 2, label) for i, (label, _) in enumerate(items)))
