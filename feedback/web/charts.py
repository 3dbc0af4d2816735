"""Server-side SVG charts for the report pages: no JavaScript, no CDN, CSP-friendly.

Every chart is an `<svg role="img">` named by its `<title>` and `<desc>`, carries its values
as text (each mark has a `<title>` tooltip and an `aria-label`), and is styled by classes in
static/app.css (a strict CSP forbids `style` attributes). All text given to a chart is
escaped with markupsafe; the result is `Markup`, safe to put in a jinja template as it is.

Charts are drawn in a viewBox and fill their box's width (app.css), so their text scales
with them: sizes are in viewBox units, given on each `<text>` as `font-size` (a
presentation attribute, which the CSP allows). The layout never lets two texts overlap: the
code estimates each text's box from its characters and font size (`text_box`, the same
estimate the tests use), truncates labels that do not fit (the full text in a `<title>`),
thins crowded axis labels, nudges labels at the ends of lines apart, and places the labels
of a scatter's dots only where they hit no other label or dot.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

Scale = Callable[[float], float]
SERIES_CLASSES = 6  # series-0 .. series-5 in app.css: a colour and a dash pattern each

# font sizes in viewBox units, by text class; the charts are 900 units wide by default, so
# at 1280 px (a 1150 px column) 12 units are 15 px
FONT_SIZES = {
    "tick": 12.0,
    "label": 13.0,
    "value": 12.0,
    "axis-label": 12.0,
    "corner": 13.0,
    "zone-label": 12.0,
    "point-label": 12.0,
    "end-label": 12.0,
}
CHAR_WIDTH = 0.62  # a character's advance in em, a little wider than system-ui's average
WIDE_CHAR_WIDTH = 1.0  # CJK and other full-width characters
ASCENT, DESCENT = 0.8, 0.25  # of the font size, above and below the baseline
GAP = 2.0  # the least room between two texts


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


# --- text geometry ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in viewBox units."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        return (
            self.x0 < other.x1 + gap
            and other.x0 < self.x1 + gap
            and self.y0 < other.y1 + gap
            and other.y0 < self.y1 + gap
        )

    def inside(self, other: Box) -> bool:
        return (
            self.x0 >= other.x0
            and self.x1 <= other.x1
            and self.y0 >= other.y0
            and self.y1 <= other.y1
        )


def text_width(text: str, size: float) -> float:
    """The estimated advance of `text` at `size`: full-width characters count one em."""
    ems = sum(
        WIDE_CHAR_WIDTH if unicodedata.east_asian_width(ch) in ("W", "F") else CHAR_WIDTH
        for ch in text
    )
    return ems * size


def text_box(x: float, y: float, text: str, size: float, anchor: str = "start") -> Box:
    """The box of a text drawn at baseline (x, y) with `text-anchor` `anchor`."""
    width = text_width(text, size)
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    return Box(left, y - ASCENT * size, left + width, y + DESCENT * size)


def fit_text(text: str, size: float, room: float) -> str:
    """`text`, cut with an ellipsis to fit `room` units at `size`."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…" if text else ""


def spread(wanted: Sequence[float], gap: float, low: float, high: float) -> list[float]:
    """Positions as close to `wanted` as they can be while at least `gap` apart and within
    [low, high] (as far as they fit): one pass down pushing apart, one pass up pulling back
    from `high`. Answers in the order given."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [max(low, min(high, wanted[i])) for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed and placed[-1] > high:
        placed[-1] = high
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def _text(
    x: float,
    y: float,
    text: str,
    cls: str,
    anchor: str = "start",
    full: str | None = None,
    extra: str = "",
) -> str:
    """A text of class `cls` (its size from FONT_SIZES); `full` adds a tooltip, for a text
    that was cut."""
    size = FONT_SIZES.get(cls.split()[0], FONT_SIZES["label"])
    tip = f"<title>{escape(full)}</title>" if full and full != text else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{cls}" text-anchor="{anchor}" '
        f'font-size="{_n(size)}"{extra}>{escape(text)}{tip}</text>'
    )


def _size(cls: str) -> float:
    return FONT_SIZES[cls]


# --- axes ---------------------------------------------------------------------------------


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) cutting `span` into about `count`."""
    raw = span / max(count, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        return [low]
    step = nice_step(high - low, count)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10) + 0.0)
        value += step
    return ticks


def fit_domain(
    values: Iterable[float | None],
    *,
    include: Iterable[float] = (),
    limits: tuple[float, float] | None = None,
    pad: float = 0.06,
    count: int = 5,
    default: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """A y range that fits `values` (give the intervals' ends too) and `include` (e.g. 0 for
    bars, which start at zero), padded by `pad` of the span and widened to round ticks, and
    never beyond `limits` (e.g. -100..100 for NPS). A range that straddles zero shows it."""
    found = [v for v in values if v is not None and math.isfinite(v)] + list(include)
    if not found:
        return default
    low, high = min(found), max(found)
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    if high - low < 1e-9:
        half = max(abs(high) * 0.1, 1.0)
        low, high = low - half, high + half
    margin = (high - low) * pad
    # padding never crosses zero: bars start at zero, and shares stay positive
    padded = (
        low - margin if low < 0 or low - margin >= 0 else 0.0,
        high + margin if high > 0 or high + margin <= 0 else 0.0,
    )
    step = nice_step(padded[1] - padded[0], count)
    for _ in range(2):  # snap the ends to the step the ticks will use
        low = math.floor(padded[0] / step + 1e-9) * step
        high = math.ceil(padded[1] / step - 1e-9) * step
        step = nice_step(high - low, count)
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    return (round(low, 10) + 0.0, round(high, 10) + 0.0)


def _thin(positions: Sequence[float], labels: Sequence[str], size: float) -> list[int]:
    """The indexes of the x labels to draw, every k-th with k as small as keeps the
    centred labels `GAP * 3` apart (the last one is kept when it fits)."""
    if not labels:
        return []
    widths = [text_width(t, size) for t in labels]
    for every in range(1, len(labels) + 1):
        chosen = list(range(0, len(labels), every))
        if _apart(positions, widths, chosen):
            last = len(labels) - 1
            if chosen[-1] != last and _apart(positions, widths, [*chosen, last]):
                chosen.append(last)
            return chosen
    return [0]


def _apart(positions: Sequence[float], widths: Sequence[float], chosen: Sequence[int]) -> bool:
    return all(
        positions[b] - widths[b] / 2 - (positions[a] + widths[a] / 2) >= GAP * 3
        for a, b in itertools.pairwise(chosen)
    )


def _y_ticks(domain: tuple[float, float], plot_height: float) -> list[float]:
    """Ticks no closer than two lines of tick text."""
    count = 5
    while count > 1:
        ticks = nice_ticks(*domain, count=count)
        if len(ticks) < 2 or plot_height / (len(ticks) - 1) >= 2.2 * _size("tick"):
            return ticks
        count -= 1
    return [domain[0], domain[1]]


CLOSE = "</svg></div>"


def _open(chart_id: str, title: str, desc: str, width: float, height: float, kind: str) -> str:
    cid = _chart_id(chart_id)
    return (
        # the box scrolls sideways when a narrow screen keeps the chart at a legible size:
        # focusable, so a keyboard can scroll it too (closed by CLOSE)
        f'<div class="chart-scroll" role="group" tabindex="0" aria-label="{escape(title)}">'
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" id="{cid}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{cid}-title {cid}-desc">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )


def _classes(base: str, extra: str) -> str:
    return f"{base} {_chart_id(extra)}" if extra else base


def _vline(cls: str, x: float, y1: float, y2: float) -> str:
    return f'<line class="{cls}" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(y1)}" y2="{_n(y2)}"/>'


def _hline(cls: str, x1: float, x2: float, y: float) -> str:
    return f'<line class="{cls}" x1="{_n(x1)}" x2="{_n(x2)}" y1="{_n(y)}" y2="{_n(y)}"/>'


def _y_label(text: str, middle: float, room: float) -> str:
    shown = fit_text(text, _size("axis-label"), room)
    return _text(
        14,
        middle,
        shown,
        "axis-label",
        "middle",
        full=text,
        extra=f' transform="rotate(-90 14 {_n(middle)})"',
    )


def _y_axis(
    domain: tuple[float, float],
    y: Scale,
    left: float,
    right: float,
    top: float,
    bottom: float,
    digits: int = 0,
) -> list[str]:
    """Grid lines and tick labels on the left, and a zero line where the range has zero."""
    parts = []
    for tick in _y_ticks(domain, bottom - top):
        ty = y(tick)
        parts.append(_hline("grid", left, right, ty))
        parts.append(_text(left - 6, ty + 4, fmt(tick, digits), "tick", "end"))
    if domain[0] < 0 < domain[1]:
        parts.append(_hline("axis zero", left, right, y(0)))
    return parts


def _tick_room(domain: tuple[float, float], digits: int = 0) -> float:
    """The widest y tick label's width."""
    return max(text_width(fmt(t, digits), _size("tick")) for t in nice_ticks(*domain))


@dataclass(frozen=True)
class _LegendItem:
    cls: str
    name: str
    swatch: str  # "line" (a short stretch of the series' line) or "rect"


def _legend_rows(
    items: Sequence[_LegendItem], left: float, right: float
) -> list[list[tuple[float, _LegendItem, str]]]:
    """Items flowed into rows: (x, item, shown name)."""
    size = _size("label")
    rows: list[list[tuple[float, _LegendItem, str]]] = [[]]
    x = left
    room = right - left
    for item in items:
        shown = fit_text(item.name, size, min(room - 30, 260))
        width = 26 + text_width(shown, size) + 18
        if rows[-1] and x + width > right:
            rows.append([])
            x = left
        rows[-1].append((x, item, shown))
        x += width
    return rows if rows[0] else []


LEGEND_ROW = 20.0


def _legend(rows: list[list[tuple[float, _LegendItem, str]]], top: float) -> list[str]:
    parts = []
    for r, row in enumerate(rows):
        ly = top + LEGEND_ROW * r + 14
        for x, item, shown in row:
            parts.append(f'<g class="legend {item.cls}">')
            if item.swatch == "line":
                parts.append(
                    f'<line class="swatch" x1="{_n(x)}" x2="{_n(x + 22)}" y1="{_n(ly - 4)}" '
                    f'y2="{_n(ly - 4)}"/>'
                )
            else:
                parts.append(
                    f'<rect class="swatch" x="{_n(x + 6)}" y="{_n(ly - 10)}" '
                    'width="12" height="12"/>'
                )
            parts.append(_text(x + 26, ly, shown, "label", full=item.name))
            parts.append("</g>")
    return parts


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
    domain: tuple[float, float] | None = None,
    width: float = 900.0,
    row_height: float = 30.0,
    label_width: float = 190.0,
    value_width: float = 300.0,
    empty_text: str = "counts only",
    limits: tuple[float, float] | None = (-100.0, 100.0),
) -> Markup:
    """Horizontal bars from zero to each value, whiskers from `low` to `high`, one row per
    segment with its label on the left and its values as text on the right. A bar without a
    value gets a row saying `empty_text`. The axis fits the values, the intervals and zero
    (within `limits`) unless a `domain` is given."""
    if domain is None:
        ends = [v for b in bars for v in (b.value, b.low, b.high)]
        domain = fit_domain(ends, include=(0.0,), limits=limits, default=(0.0, 1.0))
    top, bottom = 12.0, 30.0
    height = top + bottom + row_height * max(len(bars), 1)
    left, right = label_width, width - value_width
    x = linear(domain, (left, right))
    zero = x(min(max(0.0, domain[0]), domain[1]))
    parts = [_open(chart_id, title, desc, width, height, "bar-chart")]
    ticks = nice_ticks(*domain)
    labels = [fmt(t, 0) for t in ticks]
    for i in _thin([x(t) for t in ticks], labels, _size("tick")):
        tx = x(ticks[i])
        parts.append(_vline("grid", tx, top - 4, height - bottom))
        parts.append(_text(tx, height - bottom + 16, labels[i], "tick", "middle"))
    parts.append(_vline("axis", zero, top - 4, height - bottom))
    label_room = label_width - 16
    value_room = width - (right + 10) - 4
    for i, bar in enumerate(bars):
        y0 = top + i * row_height
        mid = y0 + row_height / 2
        summary = f"{bar.label}: {_value_text(bar, empty_text)}"
        cls = "segment flagged" if bar.flagged else "segment"
        parts.append(f'<g class="{cls}">')
        parts.append(f"<title>{escape(summary)}</title>")
        shown = fit_text(bar.label, _size("label"), label_room)
        parts.append(_text(left - 8, mid + 4, shown, "label", "end", full=bar.label))
        if bar.value is not None:
            v = x(_clamp(bar.value, domain))
            bx, bw = min(zero, v), max(abs(v - zero), 1.0)
            parts.append(
                f'<rect class="bar" x="{_n(bx)}" y="{_n(y0 + 6)}" width="{_n(bw)}" '
                f'height="{_n(row_height - 12)}"/>'
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
        value = _value_text(bar, empty_text)
        shown = fit_text(value, _size("value"), value_room)
        parts.append(_text(right + 10, mid + 4, shown, "value", full=value))
        parts.append("</g>")
    parts.append(CLOSE)
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
    cls: str = ""  # an extra class, e.g. "series-all" for the total's line


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
    domain: tuple[float, float] | None = None,
    width: float = 900.0,
    height: float = 280.0,
    bands: bool = True,
    zones: Sequence[Zone] = (),
    limits: tuple[float, float] | None = (-100.0, 100.0),
    end_labels: bool = False,
    legend: bool = True,
) -> Markup:
    """One line per series over the periods (evenly spaced), with a band from each point's
    `low` to `high` (with `bands`; the dots name the interval either way); a period without
    a value breaks the line. `zones` shade stretches of the y axis, named in the margin.
    The y axis fits the values (and the bands) within `limits` unless a `domain` is given.
    Several series get a legend under the plot and a dash pattern each; `end_labels` also
    names each line at its last point, in the right margin, nudged apart. The `desc` names
    each line and its dash pattern either way."""
    if domain is None:
        ends = [
            v
            for one in series
            for p in one.points.values()
            for v in ((p.value, p.low, p.high) if bands else (p.value,))
        ]
        domain = fit_domain(ends, limits=limits, default=limits or (0.0, 1.0))
    margin_texts = _margin_texts(series, periods, zones, end_labels)
    margin = max([text_width(t, _size("end-label")) for t, _ in margin_texts] + [0.0])
    left = max(48.0, _tick_room(domain) + 12)
    right = width - max(40.0, min(margin + 12, width * 0.3))
    top, bottom = 14.0, 30.0
    multi = len(series) > 1
    items = [_LegendItem(_series_cls(i, one), one.name, "line") for i, one in enumerate(series)]
    # without `legend` the page shows one in HTML (the desc names the lines either way)
    rows = _legend_rows(items, left, width - 8) if multi and legend else []
    plot_bottom = height - bottom - LEGEND_ROW * len(rows)
    y = linear(domain, (plot_bottom, top))
    step = (right - left) / max(len(periods) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(periods) > 1 else (right - left) / 2)

    if multi:
        desc = f"{desc} Lines: " + "; ".join(
            f"{one.name} ({DASH_NAMES[i % SERIES_CLASSES]})" for i, one in enumerate(series)
        )
    parts = [_open(chart_id, title, desc, width, height, "line-chart")]
    for zone in zones:
        z_top, z_bottom = y(_clamp(zone.high, domain)), y(_clamp(zone.low, domain))
        text = f"{zone.label}: {fmt(zone.low, 0)} to {fmt(zone.high, 0)}"
        parts.append(
            f'<rect class="{_classes("zone", zone.cls)}" x="{_n(left)}" y="{_n(z_top)}" '
            f'width="{_n(right - left)}" height="{_n(max(z_bottom - z_top, 0.0))}" '
            f'aria-label="{escape(text)}"><title>{escape(text)}</title></rect>'
        )
    parts += _y_axis(domain, y, left, right, top, plot_bottom)
    for i in _thin([px(i) for i in range(len(periods))], list(periods), _size("tick")):
        parts.append(_text(px(i), plot_bottom + 18, periods[i], "tick", "middle"))
    for s_index, one in enumerate(series):
        parts.append(f'<g class="{_series_cls(s_index, one)}" data-series="{escape(one.name)}">')
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
    parts += _margin_labels(margin_texts, y, domain, right, width, top, plot_bottom)
    parts += _legend(rows, plot_bottom + bottom - 6)
    parts.append(CLOSE)
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


DASH_NAMES = ("solid", "dashed", "dotted", "dash-dot", "long dashes", "short dashes")


def _series_cls(index: int, one: Series) -> str:
    return _classes(f"series series-{index % SERIES_CLASSES}", one.cls)


def _margin_texts(
    series: Sequence[Series], periods: Sequence[str], zones: Sequence[Zone], end_labels: bool
) -> list[tuple[str, tuple[str, float, str]]]:
    """The texts of the right margin: (text, (class, value it points at, full text))."""
    texts: list[tuple[str, tuple[str, float, str]]] = []
    for zone in zones:
        texts.append((zone.label, ("zone-label", (zone.low + zone.high) / 2, zone.label)))
    if end_labels:
        for index, one in enumerate(series):
            last = next(
                (
                    one.points[p]
                    for p in reversed(periods)
                    if p in one.points and one.points[p].value is not None
                ),
                None,
            )
            if last is not None and last.value is not None:
                full = f"{one.name} {fmt(last.value)}"
                cls = _classes(f"end-label series-{index % SERIES_CLASSES}", one.cls)
                texts.append((fit_text(full, _size("end-label"), 170), (cls, last.value, full)))
    return texts


def _margin_labels(
    texts: list[tuple[str, tuple[str, float, str]]],
    y: Scale,
    domain: tuple[float, float],
    right: float,
    width: float,
    top: float,
    bottom: float,
) -> list[str]:
    """Zone names and line ends in the right margin, nudged apart vertically."""
    if not texts:
        return []
    size = max(_size("zone-label"), _size("end-label"))
    wanted = [y(_clamp(value, domain)) + 4 for _, (_, value, _) in texts]
    placed = spread(wanted, size * (ASCENT + DESCENT) + GAP, top + size * ASCENT, bottom)
    room = width - right - 8
    return [
        _text(right + 6, at, fit_text(text, size, room), cls, full=full)
        for (text, (cls, _, full)), at in zip(texts, placed, strict=True)
    ]


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
    short: str = ""  # the text drawn beside the dot (the label when empty); `label` is its tooltip


DOT_RADIUS = 5.0
MAX_DOT_LABELS = 40


class _Index:
    """Boxes in a coarse grid, to ask quickly whether a new box hits any of them."""

    def __init__(self, cell: float = 48.0) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[Box]] = {}

    def _keys(self, box: Box) -> Iterable[tuple[int, int]]:
        c = self.cell
        for i in range(math.floor(box.x0 / c), math.floor(box.x1 / c) + 1):
            for j in range(math.floor(box.y0 / c), math.floor(box.y1 / c) + 1):
                yield (i, j)

    def add(self, box: Box) -> None:
        for key in self._keys(box):
            self.cells.setdefault(key, []).append(box)

    def hits(self, box: Box, gap: float = 0.0) -> bool:
        grown = Box(box.x0 - gap, box.y0 - gap, box.x1 + gap, box.y1 + gap)
        return any(
            other.overlaps(box, gap)
            for key in self._keys(grown)
            for other in self.cells.get(key, ())
        )


def _candidates(cx: float, cy: float, r: float, size: float) -> list[tuple[float, float, str]]:
    """Where a dot's label may go: right, left, above, below, then the four diagonals."""
    off = r + 3
    mid = cy + size * (ASCENT - DESCENT) / 2
    return [
        (cx + off, mid, "start"),
        (cx - off, mid, "end"),
        (cx, cy - off - size * DESCENT, "middle"),
        (cx, cy + off + size * ASCENT, "middle"),
        (cx + off * 0.7, cy - off * 0.7 - size * DESCENT, "start"),
        (cx + off * 0.7, cy + off * 0.7 + size * ASCENT, "start"),
        (cx - off * 0.7, cy - off * 0.7 - size * DESCENT, "end"),
        (cx - off * 0.7, cy + off * 0.7 + size * ASCENT, "end"),
    ]


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
    y_domain: tuple[float, float] | None = None,
    width: float = 900.0,
    height: float = 460.0,
    limits: tuple[float, float] | None = (-100.0, 100.0),
    label_dots: int = MAX_DOT_LABELS,
) -> Markup:
    """Dots at (x, y) with a vertical line at `x_threshold` and a horizontal one at
    `y_threshold`. `corner_labels`: top-left, top-right, bottom-left, bottom-right quadrant,
    each put in a corner of its quadrant where it covers no dot. Up to `label_dots` dots, in
    the order given (put the ones that matter first), are named beside them where the name
    hits no other name or dot; every dot keeps its tooltip."""
    if y_domain is None:
        y_domain = fit_domain(
            [d.y for d in dots], include=(y_threshold,), limits=limits, default=limits or (0.0, 1.0)
        )
    x_max = max([d.x for d in dots] + [x_threshold, 1.0])
    x_step = nice_step(x_max * 1.04, 6)
    x_domain = (0.0, math.ceil(x_max * 1.04 / x_step) * x_step)
    left = max(64.0, _tick_room(y_domain) + 30)
    # room above the plot for the names of quadrants too crowded to hold them
    top = 30.0 if any(corner_labels) else 14.0
    right, bottom = width - 16.0, 48.0
    plot = Box(left, top, right, height - bottom)
    x = linear(x_domain, (left, right))
    y = linear(y_domain, (height - bottom, top))
    parts = [_open(chart_id, title, desc, width, height, "scatter-chart")]
    ticks = nice_ticks(*x_domain)
    labels = [_short(t) for t in ticks]
    for i in _thin([x(t) for t in ticks], labels, _size("tick")):
        tx = x(ticks[i])
        parts.append(_vline("grid", tx, top, height - bottom))
        parts.append(_text(tx, height - bottom + 16, labels[i], "tick", "middle"))
    for tick in _y_ticks(y_domain, height - bottom - top):
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
    parts.append(_text((left + right) / 2, height - 8, x_label, "axis-label", "middle"))
    parts.append(_y_label(y_label, (top + height - bottom) / 2, height - bottom - top))
    texts = _Index()
    texts.add(text_box((left + right) / 2, height - 8, x_label, _size("axis-label"), "middle"))
    placed_dots = [(dot, x(_clamp(dot.x, x_domain)), y(_clamp(dot.y, y_domain))) for dot in dots]
    dot_index = _Index()
    for _, cx, cy in placed_dots:
        r = DOT_RADIUS + 1
        dot_index.add(Box(cx - r, cy - r, cx + r, cy + r))
    regions = (
        (Box(left, top, qx, qy), "start", "top"),
        (Box(qx, top, right, qy), "end", "top"),
        (Box(left, qy, qx, height - bottom), "start", "bottom"),
        (Box(qx, qy, right, height - bottom), "end", "bottom"),
    )
    for name, (region, side, edge) in zip(corner_labels, regions, strict=True):
        if not name:
            continue
        spot = _corner_spot(name, region, side, edge, dot_index, texts)
        if spot is None:  # outside the plot: above it, or at the ends of the x axis's name
            cx = left if side == "start" else right
            cy = top - 10 if edge == "top" else height - 8
            anchor = "start" if side == "start" else "end"
            box = text_box(cx, cy, name, _size("corner"), anchor)
            spot = None if texts.hits(box, GAP) else (cx, cy, anchor, box)
        if spot is not None:
            cx, cy, anchor, box = spot
            texts.add(box)
            parts.append(_text(cx, cy, name, "corner", anchor))
    size = _size("point-label")
    for dot, cx, cy in placed_dots[: max(label_dots, 0)]:
        shown = fit_text(dot.short or dot.label, size, 150)
        for tx, ty, anchor in _candidates(cx, cy, DOT_RADIUS, size):
            box = text_box(tx, ty, shown, size, anchor)
            if box.inside(plot) and not texts.hits(box, GAP) and not dot_index.hits(box, 1.0):
                texts.add(box)
                parts.append(_text(tx, ty, shown, "point-label", anchor, full=dot.label))
                break
    for dot, cx, cy in placed_dots:
        text = f"{dot.label}: {x_label} {_short(dot.x)}, {y_label} {fmt(dot.y)}"
        group = _chart_id(dot.group) if dot.group else ""
        parts.append(
            f'<circle class="dot {group}" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(DOT_RADIUS)}" '
            f'aria-label="{escape(text)}"><title>{escape(text)}</title></circle>'
        )
    parts.append(CLOSE)
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _corner_spot(
    name: str, region: Box, side: str, edge: str, dots: _Index, texts: _Index
) -> tuple[float, float, str, Box] | None:
    """The first corner of a quadrant (its outer corner first) where its name fits inside
    the quadrant and covers no dot and no other text; None when there is none."""
    size = _size("corner")
    inset = 6.0
    top_y = region.y0 + inset + size * ASCENT
    bottom_y = region.y1 - inset - size * DESCENT
    outer_y, inner_y = (top_y, bottom_y) if edge == "top" else (bottom_y, top_y)
    outer_x = region.x0 + inset if side == "start" else region.x1 - inset
    inner_x = region.x1 - inset if side == "start" else region.x0 + inset
    outer_a = "start" if side == "start" else "end"
    inner_a = "end" if side == "start" else "start"
    width = text_width(name, size)
    # the outer corner first, then along the quadrant's outer and inner edges
    xs = [outer_x]
    shift = 20.0
    while shift < region.x1 - region.x0 - width - 2 * inset:
        xs.append(outer_x + shift if side == "start" else outer_x - shift)
        shift += 20.0
    xs.append(inner_x)
    for cy in (outer_y, inner_y):
        for i, cx in enumerate(xs):
            anchor = inner_a if i == len(xs) - 1 else outer_a
            box = text_box(cx, cy, name, size, anchor)
            if box.inside(region) and not dots.hits(box, 1.0) and not texts.hits(box, GAP):
                return cx, cy, anchor, box
    return None


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
    y_domain: tuple[float, float] | None = None,
    width: float = 900.0,
    height: float = 320.0,
    limits: tuple[float, float] | None = (0.0, 1.0),
) -> Markup:
    """One step curve per `Steps`; the y axis fits the curves within `limits` unless a
    `y_domain` is given."""
    if y_domain is None:
        values = [v for c in curves for v in (c.start, *c.values)]
        y_domain = fit_domain(values, limits=limits, default=limits or (0.0, 1.0))
    digits = 2 if y_domain[1] - y_domain[0] < 0.5 else 1
    left = max(56.0, _tick_room(y_domain, digits) + 30)
    right, top, bottom = width - 16.0, 14.0, 48.0
    items = [
        _LegendItem(f"series series-{i % SERIES_CLASSES}", c.name, "line")
        for i, c in enumerate(curves)
    ]
    rows = _legend_rows(items, left, width - 8)
    plot_bottom = height - bottom - LEGEND_ROW * len(rows)
    x_max = max([t for c in curves for t in c.times] + [1.0])
    x = linear((0.0, x_max), (left, right))
    y = linear(y_domain, (plot_bottom, top))
    parts = [_open(chart_id, title, desc, width, height, "step-chart")]
    ticks = nice_ticks(0.0, x_max)
    labels = [_short(t) for t in ticks]
    for i in _thin([x(t) for t in ticks], labels, _size("tick")):
        tx = x(ticks[i])
        parts.append(_vline("grid", tx, top, plot_bottom))
        parts.append(_text(tx, plot_bottom + 16, labels[i], "tick", "middle"))
    parts += _y_axis(y_domain, y, left, right, top, plot_bottom, digits)
    parts.append(_text((left + right) / 2, plot_bottom + 34, x_label, "axis-label", "middle"))
    parts.append(_y_label(y_label, (top + plot_bottom) / 2, plot_bottom - top))
    for index, curve in enumerate(curves):
        cls = f"series series-{index % SERIES_CLASSES}"
        last = curve.values[-1] if curve.values else curve.start
        text = f"{curve.name}: {fmt(last, 3)} at {fmt(curve.times[-1] if curve.times else 0, 0)}"
        parts.append(f'<g class="{cls}"><title>{escape(text)}</title>')
        parts.append(f'<path class="step" d="{step_path(curve, x, y, x_max, y_domain)}"/>')
        parts.append("</g>")
    parts += _legend(rows, plot_bottom + bottom - 6)
    parts.append(CLOSE)
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def step_path(
    curve: Steps, x: Scale, y: Scale, x_end: float, domain: tuple[float, float] | None = None
) -> str:
    """Horizontal then vertical: the value changes exactly at each time, never in between."""

    def at(value: float) -> float:
        return y(_clamp(value, domain) if domain else value)

    level = curve.start
    commands = [f"M{_n(x(0.0))},{_n(at(level))}"]
    for time, value in zip(curve.times, curve.values, strict=True):
        commands.append(f"H{_n(x(time))}")
        if value != level:
            commands.append(f"V{_n(at(value))}")
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
    left = max(48.0, _tick_room(domain) + 12)
    right, top, bottom = width - 24.0, 14.0, 30.0
    items = [
        _LegendItem(_classes(f"layer-{i % SERIES_CLASSES}", layer.cls), layer.name, "rect")
        for i, layer in enumerate(layers)
    ]
    rows = _legend_rows(items, left, width - 8)
    plot_bottom = height - bottom - LEGEND_ROW * len(rows)
    y = linear(domain, (plot_bottom, top))
    step = (right - left) / max(len(periods) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(periods) > 1 else (right - left) / 2)

    parts = [_open(chart_id, title, desc, width, height, "stack-chart")]
    parts += _y_axis(domain, y, left, right, top, plot_bottom)
    for i in _thin([px(i) for i in range(len(periods))], list(periods), _size("tick")):
        parts.append(_text(px(i), plot_bottom + 18, periods[i], "tick", "middle"))
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
        parts.append(f'<g class="{cls}">')
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
    parts += _legend(rows, plot_bottom + bottom - 6)
    parts.append(CLOSE)
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _stack_total(layers: Sequence[Layer], period: str, domain: tuple[float, float]) -> float:
    return domain[0] + sum(layer.values.get(period, 0.0) for layer in layers)
