"""Server-drawn SVG charts: no chart library, no script, nothing for the CSP to allow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format

from members.stats import Series

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: str
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    flow_ticks: list[Tick]
    baseline: float


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        candidate = int(step * magnitude)
        if candidate >= value:
            return candidate
    return value


def _month_label(month: date) -> str:
    return date_format(month, "M y")


def membership_chart(series: Series) -> Chart:
    """Members over the months as a line; entries (up) and exits (down) as bars below it."""
    count = len(series.months)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / max(count, 1)
    line_height = (HEIGHT - TOP - BOTTOM) * 0.6
    flow_top = TOP + line_height + 20
    flow_height = HEIGHT - BOTTOM - flow_top
    baseline = flow_top + flow_height / 2

    low, high = min(series.members, default=0), max(series.members, default=0)
    low = max(0, low - (high - low) // 4)
    span = max(_nice_max(high - low), 1)

    def y_of(value: int) -> float:
        return TOP + line_height - (value - low) / span * line_height

    points = " ".join(
        f"{LEFT + step * (i + 0.5):.1f},{y_of(value):.1f}" for i, value in enumerate(series.members)
    )
    flow_max = _nice_max(max([*series.entries, *series.exits, 1]))
    half = flow_height / 2
    bars = []
    for i, month in enumerate(series.months):
        x = LEFT + step * i + step * 0.15
        width = step * 0.7
        up = series.entries[i] / flow_max * half
        down = series.exits[i] / flow_max * half
        label = _month_label(month)
        bars.append(Bar(x, baseline - up, width, up, "entry", f"{label}: {series.entries[i]}"))
        bars.append(Bar(x, baseline, width, down, "exit", f"{label}: {series.exits[i]}"))
    x_ticks = [
        Tick(LEFT + step * (i + 0.5), _month_label(month))
        for i, month in enumerate(series.months)
        if i % 3 == (count - 1) % 3
    ]
    y_ticks = [Tick(y_of(low + span * f), f"{int(low + span * f):n}") for f in (0, 0.5, 1)]
    flow_ticks = [Tick(baseline - half, f"+{flow_max}"), Tick(baseline + half, f"−{flow_max}")]
    return Chart(WIDTH, HEIGHT, points, bars, x_ticks, y_ticks, flow_ticks, baseline)


def sparkline(values: list[int], width: int = 120, height: int = 28) -> str:
    """Polyline points for a small trend line."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = max(high - low, 1)
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )


def bar_chart(months: list[date], amounts: list[Decimal]) -> Chart:
    """Amounts per month as bars (e.g. dues received); floats only for drawing."""
    values = [float(amount) for amount in amounts]
    count = len(months)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / max(count, 1)
    height = HEIGHT - TOP - BOTTOM
    top = _nice_max(int(max([*values, 1])))
    bars = []
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        bar_height = value / top * height
        bars.append(
            Bar(
                LEFT + step * i + step * 0.15,
                TOP + height - bar_height,
                step * 0.7,
                bar_height,
                "entry",
                f"{_month_label(month)}: {value:n} €",
            )
        )
    x_ticks = [
        Tick(LEFT + step * (i + 0.5), _month_label(m))
        for i, m in enumerate(months)
        if i % 3 == (count - 1) % 3
    ]
    y_ticks = [Tick(TOP + height - height * f, f"{int(top * f):n} €") for f in (0, 0.5, 1)]
    return Chart(WIDTH, HEIGHT, "", bars, x_ticks, y_ticks, [], TOP + height)
