"""Server-side SVG charts for the report pages: no JavaScript, no CDN, CSP-friendly.

Every chart is an `<svg role="img">` named by its `<title>` and `<desc>`, carries its values
as text (each mark has a `<title>` tooltip and an `aria-label`), and is styled by classes in
static/app.css (a strict CSP forbids `style` attributes). All text given to a chart is
escaped with markupsafe; the result is `Markup`, safe to put in a jinja template as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

Scale = Callable[[float], float]
SERIES_CLASSES = 6  # series-0 .. series-5 in app.css


def linear(domain: tuple[float, float], pixels: tuple[float, float]) -> Scale:
    """Maps `domain` onto `pixels` linearly (pixels may run backwards, as a y axis does)."""
    d0, d1 = domain
    p0, p1 = pixels
    span = (d1 - d0) or 1.0

    def scale(value: float) -> float:
        return p0 + (value - d0) * (p1 - p0) / span

    return scale


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return "0" if text.strip("-0.") == "" else text


def _n(value: float) -> str:
    """A coordinate for an attribute."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _chart_id(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-")
    return cleaned or "chart"


def _open(chart_id: str, title: str, desc: str, width: float, height: float, kind: str) -> str:
    cid = _chart_id(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" id="{cid}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )


def _classes(base: str, extra: str) -> str:
    return f"{base} {_chart_id(extra)}" if extra else base


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _vline(cls: str, x: float, y1: float, y2: float) -> str:
    return f'<line class="{cls}" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(y1)}" y2="{_n(y2)}"/>'


def _hline(cls: str, x1: float, x2: float, y: float) -> str:
    return f'<line class="{cls}" x1="{_n(x1)}" x2="{_n(x2)}" y1="{_n(y)}" y2="{_n(y)}"/>'


def _y_label(text: str, middle: float) -> str:
    return (
        f'<text class="axis-label" text-anchor="middle" x="14" y="{_n(middle)}" '
        f'transform="rotate(-90 14 {_n(middle)})">{escape(text)}</text>'
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


# --- bars with interval whiskers ---------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One segment: its value and interval; `value` None draws no bar (counts only)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""  # e.g. "n=12, low precision"
    flagged: bool = False


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    chart_id: str = "bars",
    domain: tuple[float, float] = (-100.0, 100.0),
    width: float = 900.0,
    row_height: float = 28.0,
    label_width: float = 170.0,
    value_width: float = 320.0,
    empty_text: str = "counts only",
) -> Markup:
    """Horizontal bars from zero to each value, whiskers from `low` to `high`, one row per
    segment with its label on the left and its values as text on the right. A bar without a
    value gets a row saying `empty_text`."""
    top, bottom = 24.0, 28.0
    height = top + bottom + row_height * max(len(bars), 1)
    left, right = label_width, width - value_width
    x = linear(domain, (left, right))
    zero = x(min(max(0.0, domain[0]), domain[1]))
    parts = [_open(chart_id, title, desc, width, height, "bar-chart")]
    for tick in nice_ticks(*domain):
        tx = x(tick)
        parts.append(
            f'<line class="grid" x1="{_n(tx)}" x2="{_n(tx)}" y1="{_n(top - 4)}" '
            f'y2="{_n(height - bottom)}"/>'
        )
        parts.append(_text(tx, height - bottom + 16, fmt(tick, 0), "tick", "middle"))
    parts.append(
        f'<line class="axis" x1="{_n(zero)}" x2="{_n(zero)}" y1="{_n(top - 4)}" '
        f'y2="{_n(height - bottom)}"/>'
    )
    for i, bar in enumerate(bars):
        y0 = top + i * row_height
        mid = y0 + row_height / 2
        summary = f"{bar.label}: {_value_text(bar, empty_text)}"
        cls = "segment flagged" if bar.flagged else "segment"
        parts.append(f'<g class="{cls}" aria-label="{escape(summary)}">')
        parts.append(f"<title>{escape(summary)}</title>")
        parts.append(_text(left - 8, mid + 4, _clip(bar.label, 24), "label", "end"))
        if bar.value is not None:
            v = x(_clamp(bar.value, domain))
            bx, bw = min(zero, v), max(abs(v - zero), 1.0)
            parts.append(
                f'<rect class="bar" x="{_n(bx)}" y="{_n(y0 + 5)}" width="{_n(bw)}" '
                f'height="{_n(row_height - 10)}"/>'
            )
        if bar.low is not None and bar.high is not None:
            lo, hi = x(_clamp(bar.low, domain)), x(_clamp(bar.high, domain))
            cap = row_height / 4
            parts.append(
                f'<line class="whisker" x1="{_n(lo)}" x2="{_n(hi)}" y1="{_n(mid)}" y2="{_n(mid)}"/>'
                f'<line class="whisker cap low" x1="{_n(lo)}" x2="{_n(lo)}" '
                f'y1="{_n(mid - cap)}" y2="{_n(mid + cap)}"/>'
                f'<line class="whisker cap high" x1="{_n(hi)}" x2="{_n(hi)}" '
                f'y1="{_n(mid - cap)}" y2="{_n(mid + cap)}"/>'
            )
        parts.append(_text(right + 10, mid + 4, _value_text(bar, empty_text), "value"))
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _value_text(bar: Bar, empty_text: str) -> str:
    if bar.value is None:
        text = empty_text
    elif bar.low is not None and bar.high is not None:
        text = f"{fmt(bar.value)} ({fmt(bar.low)} to {fmt(bar.high)})"
    else:
        text = fmt(bar.value)
    return f"{text}, {bar.note}" if bar.note else text


def _clamp(value: float, domain: tuple[float, float]) -> float:
    return min(max(value, domain[0]), domain[1])


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --- lines with interval bands ------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Series:
    name: str
    points: dict[str, Point] = field(default_factory=dict)  # by period label


@dataclass(frozen=True)
class Zone:
    """A shaded stretch of the y axis behind the lines, e.g. a health band, named in the
    right margin (keep `label` to a word or two)."""

    low: float
    high: float
    label: str
    cls: str = ""


def line_chart(
    periods: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    chart_id: str = "trend",
    domain: tuple[float, float] = (-100.0, 100.0),
    width: float = 900.0,
    height: float = 280.0,
    bands: bool = True,
    zones: Sequence[Zone] = (),
) -> Markup:
    """One line per series over the periods (evenly spaced), with a band from each point's
    `low` to `high` (with `bands`; the dots name the interval either way); a period without
    a value breaks the line. `zones` shade stretches of the y axis, named in the margin."""
    # room on the right for the last period's label, centred under its point
    left, right, top, bottom = 48.0, width - 40.0, 16.0, 48.0
    legend = 18.0 * math.ceil(len(series) / 3) if len(series) > 1 else 0.0
    plot_bottom = height - bottom - legend
    y = linear(domain, (plot_bottom, top))
    step = (right - left) / max(len(periods) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(periods) > 1 else (right - left) / 2)

    parts = [_open(chart_id, title, desc, width, height, "line-chart")]
    for zone in zones:
        z_top, z_bottom = y(_clamp(zone.high, domain)), y(_clamp(zone.low, domain))
        text = f"{zone.label}: {fmt(zone.low, 0)} to {fmt(zone.high, 0)}"
        parts.append(
            f'<rect class="{_classes("zone", zone.cls)}" x="{_n(left)}" y="{_n(z_top)}" '
            f'width="{_n(right - left)}" height="{_n(max(z_bottom - z_top, 0.0))}" '
            f'aria-label="{escape(text)}"><title>{escape(text)}</title></rect>'
        )
        middle = (z_top + z_bottom) / 2 + 4
        parts.append(_text(right + 4, middle, _clip(zone.label, 7), "zone-label"))
    for tick in nice_ticks(*domain):
        ty = y(tick)
        parts.append(_hline("grid", left, right, ty))
        parts.append(_text(left - 6, ty + 4, fmt(tick, 0), "tick", "end"))
    if domain[0] < 0 < domain[1]:
        parts.append(_hline("axis", left, right, y(0)))
    label_every = max(1, math.ceil(len(periods) / 12))
    for i, period in enumerate(periods):
        if i % label_every == 0:
            parts.append(_text(px(i), plot_bottom + 18, period, "tick", "middle"))
    for s_index, one in enumerate(series):
        cls = f"series series-{s_index % SERIES_CLASSES}"
        parts.append(f'<g class="{cls}" aria-label="{escape(one.name)}">')
        with_band = (lambda p: p.low is not None and p.high is not None) if bands else None
        for run in _runs(periods, one.points, with_band) if with_band else []:
            upper = [f"{_n(px(i))},{_n(y(_clamp(p.high, domain)))}" for i, p in run]  # type: ignore[arg-type]
            lower = [f"{_n(px(i))},{_n(y(_clamp(p.low, domain)))}" for i, p in reversed(run)]  # type: ignore[arg-type]
            parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
        for run in _runs(periods, one.points, lambda p: p.value is not None):
            coords = " ".join(f"{_n(px(i))},{_n(y(_clamp(p.value, domain)))}" for i, p in run)  # type: ignore[arg-type]
            parts.append(f'<polyline class="line" points="{coords}"/>')
        for i, period in enumerate(periods):
            point = one.points.get(period)
            if point is None or point.value is None:
                continue
            text = f"{one.name}, {period}: {fmt(point.value)}"
            if point.low is not None and point.high is not None:
                text += f" ({fmt(point.low)} to {fmt(point.high)})"
            if point.note:
                text += f", {point.note}"
            parts.append(
                f'<circle class="dot" cx="{_n(px(i))}" cy="{_n(y(_clamp(point.value, domain)))}" '
                f'r="3.5" aria-label="{escape(text)}"><title>{escape(text)}</title></circle>'
            )
        parts.append("</g>")
    if len(series) > 1:
        for s_index, one in enumerate(series):
            lx = left + (s_index % 3) * (right - left) / 3
            ly = height - legend - 4 + 18 * (s_index // 3) + 14
            cls = f"legend series-{s_index % SERIES_CLASSES}"
            parts.append(
                f'<rect class="{cls}" x="{_n(lx)}" y="{_n(ly - 9)}" width="10" height="10"/>'
            )
            parts.append(_text(lx + 14, ly, _clip(one.name, 36), "label"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _runs(
    periods: Sequence[str], points: dict[str, Point], keep: Callable[[Point], bool]
) -> list[list[tuple[int, Point]]]:
    """Consecutive periods whose points pass `keep`."""
    runs: list[list[tuple[int, Point]]] = []
    current: list[tuple[int, Point]] = []
    for i, period in enumerate(periods):
        point = points.get(period)
        if point is not None and keep(point):
            current.append((i, point))
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


# --- scatter with quadrant lines ----------------------------------------------------------


@dataclass(frozen=True)
class Dot:
    label: str
    x: float
    y: float
    group: str = ""  # a class name, e.g. the quadrant


def scatter_chart(
    dots: Sequence[Dot],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    x_threshold: float,
    y_threshold: float,
    corner_labels: tuple[str, str, str, str] = ("", "", "", ""),
    chart_id: str = "scatter",
    y_domain: tuple[float, float] = (-100.0, 100.0),
    width: float = 900.0,
    height: float = 460.0,
) -> Markup:
    """Dots at (x, y) with a vertical line at `x_threshold` and a horizontal one at
    `y_threshold`. `corner_labels`: top-left, top-right, bottom-left, bottom-right."""
    left, right, top, bottom = 64.0, width - 16.0, 16.0, 48.0
    x_max = max([d.x for d in dots] + [x_threshold, 1.0]) * 1.05
    x_domain = (0.0, x_max)
    x = linear(x_domain, (left, right))
    y = linear(y_domain, (height - bottom, top))
    parts = [_open(chart_id, title, desc, width, height, "scatter-chart")]
    for tick in nice_ticks(*x_domain):
        tx = x(tick)
        parts.append(_vline("grid", tx, top, height - bottom))
        parts.append(_text(tx, height - bottom + 16, _short(tick), "tick", "middle"))
    for tick in nice_ticks(*y_domain):
        ty = y(tick)
        parts.append(_hline("grid", left, right, ty))
        parts.append(_text(left - 6, ty + 4, fmt(tick, 0), "tick", "end"))
    qx, qy = x(_clamp(x_threshold, x_domain)), y(_clamp(y_threshold, y_domain))
    parts.append(
        f'<line class="threshold x-threshold" x1="{_n(qx)}" x2="{_n(qx)}" y1="{_n(top)}" '
        f'y2="{_n(height - bottom)}"/>'
        f'<line class="threshold y-threshold" x1="{_n(left)}" x2="{_n(right)}" y1="{_n(qy)}" '
        f'y2="{_n(qy)}"/>'
    )
    tl, tr, bl, br = corner_labels
    parts.append(_text(left + 6, top + 14, tl, "corner"))
    parts.append(_text(right - 6, top + 14, tr, "corner", "end"))
    parts.append(_text(left + 6, height - bottom - 8, bl, "corner"))
    parts.append(_text(right - 6, height - bottom - 8, br, "corner", "end"))
    parts.append(_text((left + right) / 2, height - 8, x_label, "axis-label", "middle"))
    parts.append(_y_label(y_label, (top + height - bottom) / 2))
    for dot in dots:
        text = f"{dot.label}: {x_label} {_short(dot.x)}, {y_label} {fmt(dot.y)}"
        group = _chart_id(dot.group) if dot.group else ""
        parts.append(
            f'<circle class="dot {group}" cx="{_n(x(_clamp(dot.x, x_domain)))}" '
            f'cy="{_n(y(_clamp(dot.y, y_domain)))}" r="5" aria-label="{escape(text)}">'
            f"<title>{escape(text)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _short(value: float) -> str:
    """1500 -> 1.5k, 2000000 -> 2M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


# --- step functions (Kaplan-Meier) --------------------------------------------------------


@dataclass(frozen=True)
class Steps:
    """A right-continuous step function: `values[i]` holds from `times[i]` on; before the
    first time it is `start`."""

    name: str
    times: Sequence[float]
    values: Sequence[float]
    start: float = 1.0


def step_chart(
    curves: Sequence[Steps],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    chart_id: str = "steps",
    y_domain: tuple[float, float] = (0.0, 1.0),
    width: float = 900.0,
    height: float = 320.0,
) -> Markup:
    left, right, top, bottom = 56.0, width - 16.0, 16.0, 48.0
    legend = 18.0 * math.ceil(len(curves) / 3) if curves else 0.0
    plot_bottom = height - bottom - legend
    x_max = max([t for c in curves for t in c.times] + [1.0])
    x = linear((0.0, x_max), (left, right))
    y = linear(y_domain, (plot_bottom, top))
    parts = [_open(chart_id, title, desc, width, height, "step-chart")]
    for tick in nice_ticks(0.0, x_max):
        tx = x(tick)
        parts.append(_vline("grid", tx, top, plot_bottom))
        parts.append(_text(tx, plot_bottom + 16, _short(tick), "tick", "middle"))
    for tick in nice_ticks(*y_domain):
        ty = y(tick)
        parts.append(_hline("grid", left, right, ty))
        parts.append(_text(left - 6, ty + 4, fmt(tick, 1), "tick", "end"))
    parts.append(_text((left + right) / 2, plot_bottom + 34, x_label, "axis-label", "middle"))
    parts.append(_y_label(y_label, (top + plot_bottom) / 2))
    for index, curve in enumerate(curves):
        cls = f"series series-{index % SERIES_CLASSES}"
        last = curve.values[-1] if curve.values else curve.start
        text = f"{curve.name}: {fmt(last, 3)} at {fmt(curve.times[-1] if curve.times else 0, 0)}"
        parts.append(f'<g class="{cls}" aria-label="{escape(text)}"><title>{escape(text)}</title>')
        parts.append(f'<path class="step" d="{step_path(curve, x, y, x_max)}"/>')
        parts.append("</g>")
        lx = left + (index % 3) * (right - left) / 3
        ly = height - legend - 4 + 18 * (index // 3) + 14
        parts.append(
            f'<rect class="legend series-{index % SERIES_CLASSES}" x="{_n(lx)}" y="{_n(ly - 9)}" '
            'width="10" height="10"/>'
        )
        parts.append(_text(lx + 14, ly, _clip(curve.name, 36), "label"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def step_path(curve: Steps, x: Scale, y: Scale, x_end: float) -> str:
    """Horizontal then vertical: the value changes exactly at each time, never in between."""
    level = curve.start
    commands = [f"M{_n(x(0.0))},{_n(y(level))}"]
    for time, value in zip(curve.times, curve.values, strict=True):
        commands.append(f"H{_n(x(time))}")
        if value != level:
            commands.append(f"V{_n(y(value))}")
            level = value
    commands.append(f"H{_n(x(x_end))}")
    return " ".join(commands)


# --- stacked shares (areas) ---------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One layer of a stack: its value per period (e.g. a share in percent), a note per
    period for the tooltips (e.g. the count) and a class for its colour."""

    name: str
    values: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    cls: str = ""


def stacked_area_chart(
    periods: Sequence[str],
    layers: Sequence[Layer],
    *,
    title: str,
    desc: str,
    chart_id: str = "stack",
    domain: tuple[float, float] = (0.0, 100.0),
    unit: str = "%",
    digits: int = 0,
    width: float = 900.0,
    height: float = 260.0,
) -> Markup:
    """Layers stacked bottom-up over the periods (evenly spaced), the first layer at the
    bottom. A period no layer has a value for breaks the areas; a lone period is drawn as a
    narrow column. Each period carries one tooltip with every layer's value."""
    left, right, top, bottom = 48.0, width - 40.0, 16.0, 48.0
    legend = 18.0 * math.ceil(len(layers) / 4) if layers else 0.0
    plot_bottom = height - bottom - legend
    y = linear(domain, (plot_bottom, top))
    step = (right - left) / max(len(periods) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(periods) > 1 else (right - left) / 2)

    parts = [_open(chart_id, title, desc, width, height, "stack-chart")]
    for tick in nice_ticks(*domain):
        ty = y(tick)
        parts.append(_hline("grid", left, right, ty))
        parts.append(_text(left - 6, ty + 4, fmt(tick, 0), "tick", "end"))
    label_every = max(1, math.ceil(len(periods) / 12))
    for i, period in enumerate(periods):
        if i % label_every == 0:
            parts.append(_text(px(i), plot_bottom + 18, period, "tick", "middle"))
    present = [any(p in layer.values for layer in layers) for p in periods]
    runs: list[list[int]] = []
    for i, here in enumerate(present):
        if here and runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        elif here:
            runs.append([i])
    half = min(step / 2, 4.0)
    for l_index, layer in enumerate(layers):
        cls = _classes(f"layer layer-{l_index % SERIES_CLASSES}", layer.cls)
        parts.append(f'<g class="{cls}" aria-label="{escape(layer.name)}">')
        for run in runs:
            # a lone period: the same values at both sides of a narrow column
            cols = run if len(run) > 1 else [run[0], run[0]]
            xs = [px(i) for i in run] if len(run) > 1 else [px(run[0]) - half, px(run[0]) + half]
            below = [_stack_total(layers[:l_index], periods[i], domain) for i in cols]
            above = [
                b + layer.values.get(periods[i], 0.0) for b, i in zip(below, cols, strict=True)
            ]
            upper = [f"{_n(x)},{_n(y(_clamp(v, domain)))}" for x, v in zip(xs, above, strict=True)]
            lower = [
                f"{_n(x)},{_n(y(_clamp(v, domain)))}"
                for x, v in zip(reversed(xs), reversed(below), strict=True)
            ]
            parts.append(f'<polygon class="area" points="{" ".join(upper + lower)}"/>')
        parts.append("</g>")
    for i, period in enumerate(periods):
        if not present[i]:
            continue
        values = ", ".join(
            f"{layer.name} {fmt(layer.values.get(period, 0.0), digits)}{unit}"
            + (f" ({layer.notes[period]})" if period in layer.notes else "")
            for layer in layers
        )
        text = f"{period}: {values}"
        x0 = max(px(i) - max(step / 2, half), left - half)
        x1 = min(px(i) + max(step / 2, half), right + half)
        parts.append(
            f'<rect class="slice" x="{_n(x0)}" y="{_n(top)}" width="{_n(x1 - x0)}" '
            f'height="{_n(plot_bottom - top)}" aria-label="{escape(text)}">'
            f"<title>{escape(text)}</title></rect>"
        )
    for l_index, layer in enumerate(layers):
        lx = left + (l_index % 4) * (right - left) / 4
        ly = height - legend - 4 + 18 * (l_index // 4) + 14
        cls = _classes(f"legend layer-{l_index % SERIES_CLASSES}", layer.cls)
        parts.append(f'<rect class="{cls}" x="{_n(lx)}" y="{_n(ly - 9)}" width="10" height="10"/>')
        parts.append(_text(lx + 14, ly, _clip(layer.name, 36), "label"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _stack_total(layers: Sequence[Layer], period: str, domain: tuple[float, float]) -> float:
    return domain[0] + sum(layer.values.get(period, 0.0) for layer in layers)
