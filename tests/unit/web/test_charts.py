"""The SVG charts of the report pages: geometry, accessibility and escaping."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment
from markupsafe import Markup

from feedback.web.charts import (
    ASCENT,
    CHAR_WIDTH,
    DESCENT,
    Bar,
    Dot,
    Layer,
    Point,
    Series,
    Steps,
    Zone,
    bar_chart,
    fit_domain,
    line_chart,
    linear,
    nice_ticks,
    scatter_chart,
    stacked_area_chart,
    step_chart,
    step_path,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&"'


def parse(svg: Markup) -> ET.Element:
    """The chart's <svg>, out of the focusable box that lets it scroll on a phone."""
    box = ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input
    assert box.tag == "div" and box.get("class") == "chart-scroll"
    assert box.get("tabindex") == "0" and box.get("role") == "group" and box.get("aria-label")
    (root,) = list(box)
    return root


def find_all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    found = root.iter(SVG + tag)
    return [e for e in found if cls is None or cls in (e.get("class") or "").split()]


def test_a_linear_scale_maps_the_domain_ends_onto_the_pixel_ends() -> None:
    x = linear((-100, 100), (170, 510))
    assert (x(-100), x(0), x(100)) == (170, 340, 510)
    y = linear((0, 1), (300, 20))
    assert (y(0), y(1), y(0.5)) == (300, 20, 160)


def test_ticks_are_round_numbers_covering_the_range() -> None:
    assert nice_ticks(-100, 100) == [-100, -50, 0, 50, 100]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 260000) == [0, 100000, 200000]


def test_whiskers_end_at_the_interval_bounds_and_bars_start_at_zero() -> None:
    svg = bar_chart(
        [Bar("paid", 20, -10, 40, note="n=50"), Bar("free", -30, -60, 0)],
        title="NPS by plan",
        desc="d",
        domain=(-100, 100),
        width=720,
        label_width=170,
        value_width=210,
    )
    root = parse(svg)
    x = linear((-100, 100), (170, 510))
    bars = find_all(root, "rect", "bar")
    assert len(bars) == 2
    paid, free = bars
    assert float(paid.get("x")) == pytest.approx(x(0))
    assert float(paid.get("width")) == pytest.approx(x(20) - x(0))
    assert float(free.get("x")) == pytest.approx(x(-30))
    assert float(free.get("x")) + float(free.get("width")) == pytest.approx(x(0))
    lows = find_all(root, "line", "low")
    highs = find_all(root, "line", "high")
    assert [float(e.get("x1")) for e in lows] == pytest.approx([x(-10), x(-60)])
    assert [float(e.get("x1")) for e in highs] == pytest.approx([x(40), x(0)])
    values = [t.text for t in find_all(root, "text", "value")]
    assert values == ["20.0 (-10.0 to 40.0), n=50", "-30.0 (-60.0 to 0)"]


def test_a_counts_only_segment_has_a_row_and_no_bar() -> None:
    root = parse(bar_chart([Bar("tiny", None, note="n=3")], title="t", desc="d"))
    assert len(find_all(root, "g", "segment")) == 1
    assert find_all(root, "rect", "bar") == []
    assert find_all(root, "text", "value")[0].text == "counts only, n=3"
    root = parse(bar_chart([Bar("none", None)], title="t", desc="d", empty_text="no accounts"))
    assert find_all(root, "text", "value")[0].text == "no accounts"


def test_values_outside_the_domain_are_clamped_to_the_plot() -> None:
    svg = bar_chart([Bar("x", 150, 120, 180)], title="t", desc="d", domain=(-100, 100))
    x = linear((-100, 100), (190, 900 - 300))
    root = parse(svg)
    (high,) = find_all(root, "line", "high")
    assert float(high.get("x1")) == pytest.approx(x(100))


def test_charts_are_named_for_assistive_technology() -> None:
    svg = bar_chart([Bar("a", 1, 0, 2)], title="NPS by plan", desc="Bars", chart_id="by plan!")
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "by-plan-title by-plan-desc"
    assert root.find(SVG + "title").text == "NPS by plan"
    assert root.find(SVG + "desc").text == "Bars"
    # the marks are inside role="img" (presentational): their values are in <title> tooltips
    segment = find_all(root, "g", "segment")[0]
    assert segment.get("aria-label") is None
    assert segment.find(SVG + "title").text == "a: 1.0 (0 to 2.0)"


def test_hostile_labels_are_escaped_everywhere() -> None:
    charts = [
        bar_chart([Bar(HOSTILE, 1, 0, 2, note=HOSTILE)], title=HOSTILE, desc=HOSTILE),
        line_chart(
            [HOSTILE, "2026-Q2"],
            [Series(HOSTILE, {HOSTILE: Point(1, 0, 2, HOSTILE)})],
            title=HOSTILE,
            desc=HOSTILE,
        ),
        scatter_chart(
            [Dot(HOSTILE, 10, 10, group=HOSTILE)],
            title=HOSTILE,
            desc=HOSTILE,
            x_label=HOSTILE,
            y_label=HOSTILE,
            x_threshold=5,
            y_threshold=0,
            corner_labels=(HOSTILE, HOSTILE, HOSTILE, HOSTILE),
            chart_id=HOSTILE,
        ),
        step_chart(
            [Steps(HOSTILE, [1, 2], [0.9, 0.5])],
            title=HOSTILE,
            desc=HOSTILE,
            x_label=HOSTILE,
            y_label=HOSTILE,
        ),
    ]
    for svg in charts:
        assert "<script" not in svg
        assert "&lt;script&gt;" in svg
        parse(svg)  # still well-formed XML
        rendered = Environment(autoescape=True).from_string("{{ chart }}").render(chart=svg)
        assert rendered == str(svg)  # Markup: not escaped twice


def test_a_trend_draws_a_band_from_low_to_high_and_breaks_at_gaps() -> None:
    periods = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    points = {
        "2025-Q1": Point(10, 0, 20),
        "2025-Q2": Point(20, 10, 30),
        "2025-Q4": Point(30, 20, 40),
    }
    svg = line_chart(
        periods,
        [Series("all", points)],
        title="t",
        desc="d",
        width=720,
        height=280,
        domain=(-100, 100),
    )
    root = parse(svg)
    lines = find_all(root, "polyline", "line")
    bands = find_all(root, "polygon", "band")
    assert len(lines) == 2 and len(bands) == 2  # Q3 has no answers: two runs
    y = linear((-100, 100), (280 - 30, 14))
    first_band = [tuple(map(float, p.split(","))) for p in bands[0].get("points").split()]
    assert [p[1] for p in first_band] == pytest.approx([y(20), y(30), y(10), y(0)])
    dots = find_all(root, "circle", "dot")
    assert len(dots) == 3
    assert dots[0].get("aria-label") == "all, 2025-Q1: 10.0 (0 to 20.0)"


def test_several_series_can_go_without_bands() -> None:
    points = {"2025-Q1": Point(10, 0, 20), "2025-Q2": Point(20, 10, 30)}
    svg = line_chart(
        ["2025-Q1", "2025-Q2"],
        [Series("Ann", points), Series("Bob", points)],
        title="t",
        desc="d",
        bands=False,
    )
    root = parse(svg)
    assert find_all(root, "polygon", "band") == []
    assert len(find_all(root, "polyline", "line")) == 2
    legend = find_all(root, "g", "legend")
    assert [g.find(SVG + "text").text for g in legend] == ["Ann", "Bob"]
    assert "series-1" in legend[1].get("class").split()  # its colour and dash pattern
    assert "Ann (solid); Bob (dashed)" in root.find(SVG + "desc").text


def test_a_scatter_puts_the_quadrant_lines_at_the_thresholds() -> None:
    svg = scatter_chart(
        [Dot("Acme", 100_000, 50, "advocate"), Dot("Globex", 10_000, -20, "fix")],
        title="t",
        desc="d",
        x_label="ARR",
        y_label="NPS",
        x_threshold=50_000,
        y_threshold=10,
        width=720,
        height=420,
        y_domain=(-100, 100),
    )
    root = parse(svg)
    x = linear((0, 120_000), (64, 704))  # 0 to 100k and a little room, to a round tick
    y = linear((-100, 100), (372, 14))  # no quadrant names: no room above the plot
    (vertical,) = find_all(root, "line", "x-threshold")
    (horizontal,) = find_all(root, "line", "y-threshold")
    assert float(vertical.get("x1")) == pytest.approx(x(50_000), abs=0.01)
    assert float(horizontal.get("y1")) == pytest.approx(y(10), abs=0.01)
    acme = find_all(root, "circle", "advocate")[0]
    assert float(acme.get("cx")) == pytest.approx(x(100_000), abs=0.01)
    assert float(acme.get("cy")) == pytest.approx(y(50), abs=0.01)


def test_a_step_path_changes_level_only_at_the_event_times() -> None:
    x = linear((0, 100), (0, 100))
    y = linear((0, 1), (100, 0))
    path = step_path(Steps("c", [10, 30], [0.8, 0.5]), x, y, 100)
    assert path == "M0,0 H10 V20 H30 V50 H100"


def test_a_step_chart_draws_one_path_per_curve() -> None:
    svg = step_chart(
        [Steps("promoter", [5, 50], [0.95, 0.9]), Steps("detractor", [3, 40], [0.8, 0.6])],
        title="t",
        desc="d",
        x_label="days",
        y_label="still customers",
    )
    assert len(find_all(parse(svg), "path", "step")) == 2


def points_of(polygon: ET.Element) -> list[tuple[float, ...]]:
    return [tuple(map(float, p.split(","))) for p in (polygon.get("points") or "").split()]


def test_zones_shade_the_y_axis_behind_the_line() -> None:
    svg = line_chart(
        ["d1", "d2"],
        [Series("Average", {"d1": Point(50), "d2": Point(60)})],
        title="t",
        desc="d",
        domain=(0, 100),
        height=280,
        zones=[Zone(70, 100, "green", "zone-green"), Zone(0, 40, HOSTILE, "zone-red")],
    )
    root = parse(svg)
    y = linear((0, 100), (280 - 30, 14))
    green, red = find_all(root, "rect", "zone")
    assert "zone-green" in green.get("class").split()
    assert float(green.get("y")) == pytest.approx(y(100))
    assert float(green.get("height")) == pytest.approx(y(70) - y(100))
    assert float(red.get("y")) + float(red.get("height")) == pytest.approx(y(0))
    assert green.get("aria-label") == "green: 70 to 100"
    label = next(t for t in find_all(root, "text") if t.text == "green")
    plot_right = max(float(g.get("x2")) for g in find_all(root, "line", "grid"))
    assert float(label.get("x")) > plot_right  # in the right margin, clear of the lines
    assert "<script" not in svg and "&lt;script&gt;" in svg


def test_stacked_layers_reach_the_total_and_break_at_gaps() -> None:
    periods = ["d1", "d2", "d3", "d4"]
    red = Layer("Red", {"d1": 25, "d2": 50, "d4": 10}, {"d1": "1"}, "band-red")
    green = Layer("Green", {"d1": 75, "d2": 50, "d4": 90}, {"d1": "3"}, "band-green")
    svg = stacked_area_chart(periods, [red, green], title="t", desc="d", height=260)
    root = parse(svg)
    y = linear((0, 100), (260 - 30 - 20, 14))
    areas = find_all(root, "polygon", "area")
    assert len(areas) == 4  # two layers, two runs: d3 has no values
    red_run, _, green_run, green_alone = areas
    assert [p[1] for p in points_of(red_run)] == pytest.approx([y(25), y(50), y(0), y(0)])
    assert [p[1] for p in points_of(green_run)] == pytest.approx([y(100), y(100), y(50), y(25)])
    # d4 alone is a narrow column: the same values on both sides
    alone = points_of(green_alone)
    assert alone[0][0] < alone[1][0] and [p[1] for p in alone] == pytest.approx(
        [y(100), y(100), y(10), y(10)]
    )
    slices = find_all(root, "rect", "slice")
    assert len(slices) == 3
    assert slices[0].get("aria-label") == "d1: Red 25% (1), Green 75% (3)"
    assert "band-red" in find_all(root, "g", "layer")[0].get("class").split()


def test_stacked_labels_are_escaped() -> None:
    svg = stacked_area_chart(
        [HOSTILE],
        [Layer(HOSTILE, {HOSTILE: 100}, {HOSTILE: HOSTILE}, HOSTILE)],
        title=HOSTILE,
        desc=HOSTILE,
        chart_id=HOSTILE,
    )
    assert "<script" not in svg and "&lt;script&gt;" in svg
    parse(svg)


# --- axes fit the data --------------------------------------------------------------------


def y_ticks(root: ET.Element) -> list[float]:
    return [
        float(t.text or "") for t in find_all(root, "text", "tick") if t.get("text-anchor") == "end"
    ]


def test_a_trend_axis_fits_the_values_and_their_intervals_not_minus_100_to_100() -> None:
    points = {"q1": Point(30, 18, 41), "q2": Point(36, 25, 47)}
    root = parse(line_chart(["q1", "q2"], [Series("a", points)], title="t", desc="d"))
    ticks = y_ticks(root)
    assert min(ticks) <= 18 and max(ticks) >= 47  # the bands fit
    assert min(ticks) >= 0 and max(ticks) <= 60  # and nothing far beyond them
    assert find_all(root, "line", "zero") == []  # zero is not in the range: no zero line


def test_an_axis_straddling_zero_shows_it_with_a_zero_line() -> None:
    points = {"q1": Point(-12, -30, 5), "q2": Point(8, -6, 20)}
    root = parse(line_chart(["q1", "q2"], [Series("a", points)], title="t", desc="d"))
    assert 0 in y_ticks(root)
    assert len(find_all(root, "line", "zero")) == 1


def test_the_fitted_axis_stays_within_the_nps_scale() -> None:
    low, high = fit_domain([95, 100], limits=(-100, 100))
    assert 80 <= low <= 95 and high == 100
    assert fit_domain([-100, 100], limits=(-100, 100)) == (-100, 100)
    assert fit_domain([], default=(-100, 100)) == (-100, 100)
    low, high = fit_domain([0.2, 0.3], include=(0,))
    assert low == 0 and 0.3 < high <= 0.4


def test_bars_fit_their_whiskers_and_zero() -> None:
    root = parse(bar_chart([Bar("a", 12, 4, 21), Bar("b", 8, 1, 15)], title="t", desc="d"))
    ticks = [float(t.text or "") for t in find_all(root, "text", "tick")]
    assert min(ticks) == 0 and 21 <= max(ticks) <= 30


# --- no two texts overlap -----------------------------------------------------------------


def box_of(element: ET.Element) -> tuple[float, float, float, float]:
    """A text's box estimated as the charts estimate it: characters x font size."""
    text = element.text or ""
    size = float(element.get("font-size") or 0)
    assert size >= 12  # readable: 12 units or more (15 px in a 1150 px column)
    width = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else CHAR_WIDTH for c in text)
    width *= size
    x, y = float(element.get("x") or 0), float(element.get("y") or 0)
    anchor = element.get("text-anchor")
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    box = (left, y - ASCENT * size, left + width, y + DESCENT * size)
    rotate = re.fullmatch(r"rotate\(-90 ([\d.]+) ([\d.]+)\)", element.get("transform") or "")
    if rotate:  # turned a quarter about (cx, cy): x and y swap roles
        cx, cy = float(rotate[1]), float(rotate[2])
        x0, y0, x1, y1 = box
        box = (cx + (y0 - cy), cy - (x1 - cx), cx + (y1 - cy), cy - (x0 - cx))
    return box


def intersect(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_no_text_overlaps(svg: Markup) -> list[tuple[float, float, float, float]]:
    root = parse(svg)
    _, _, width, height = map(float, (root.get("viewBox") or "").split())
    boxes = [(t, box_of(t)) for t in find_all(root, "text") if t.text]
    for i, (a, box_a) in enumerate(boxes):
        x0, y0, x1, y1 = box_a
        assert x0 >= -0.5 and x1 <= width + 0.5 and y0 >= -0.5 and y1 <= height + 0.5, a.text
        for b, box_b in boxes[i + 1 :]:
            assert not intersect(box_a, box_b), (a.text, b.text)
    return [b for _, b in boxes]


NAMES = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789-_.@東京本社営業"),
    min_size=1,
    max_size=40,
)
VALUES = st.floats(min_value=-100, max_value=100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(NAMES, min_size=1, max_size=8),
    values=st.lists(VALUES, min_size=1, max_size=60),
    periods=st.integers(min_value=1, max_value=36),
    end_labels=st.booleans(),
)
def test_a_crowded_trend_has_no_overlapping_text(
    names: list[str], values: list[float], periods: int, end_labels: bool
) -> None:
    labels = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 4)][:periods]
    series = [
        Series(
            name,
            {
                p: Point(v, v - 10, v + 10)
                for p, v in zip(labels, values[i % len(values) :], strict=False)
            },
        )
        for i, name in enumerate(names)
    ]
    svg = line_chart(labels, series, title="t", desc="d", end_labels=end_labels)
    assert_no_text_overlaps(svg)


def test_lines_ending_at_the_same_value_get_their_names_nudged_apart() -> None:
    series = [Series(f"segment {i}", {"q1": Point(10), "q2": Point(20)}) for i in range(6)]
    svg = line_chart(["q1", "q2"], series, title="t", desc="d", end_labels=True)
    boxes = assert_no_text_overlaps(svg)
    ends = [t for t in find_all(parse(svg), "text", "end-label")]
    assert [t.text for t in ends] == [f"segment {i} 20.0" for i in range(6)]
    assert len(boxes) > 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES, st.integers(0, 20)), min_size=1, max_size=25))
def test_long_bar_labels_are_cut_with_the_full_text_in_a_title(
    rows: list[tuple[str, float, int]],
) -> None:
    bars = [Bar(name * 3, v, v - w, v + w, note="n=12, low precision") for name, v, w in rows]
    svg = bar_chart(bars, title="t", desc="d")
    assert_no_text_overlaps(svg)
    for text in find_all(parse(svg), "text", "label"):
        tip = text.find(SVG + "title")
        if text.text and text.text.endswith("…"):
            assert tip is not None and tip.text and tip.text.startswith(text.text[:-1])


DOTS = st.lists(
    st.tuples(NAMES, st.floats(0, 2e6, allow_nan=False), VALUES), min_size=0, max_size=120
)


@settings(max_examples=60, deadline=None)
@given(DOTS, st.floats(0, 2e6, allow_nan=False), VALUES)
def test_scatter_labels_overlap_no_other_label_and_no_dot(
    dots: list[tuple[str, float, float]], x_threshold: float, y_threshold: float
) -> None:
    svg = scatter_chart(
        [Dot(f"{name} (id)", x, y, "fix", short=name) for name, x, y in dots],
        title="t",
        desc="d",
        x_label="ARR",
        y_label="NPS",
        x_threshold=x_threshold,
        y_threshold=y_threshold,
        corner_labels=("Grow", "Advocate", "Fix", "Protect"),
    )
    assert_no_text_overlaps(svg)
    root = parse(svg)
    circles = [
        (float(c.get("cx") or 0), float(c.get("cy") or 0), float(c.get("r") or 0))
        for c in find_all(root, "circle", "dot")
    ]
    assert len(circles) == len(dots)  # every dot is drawn, labelled or not
    for text in find_all(root, "text"):
        if "point-label" in (text.get("class") or "") or "corner" in (text.get("class") or ""):
            box = box_of(text)
            for cx, cy, r in circles:
                assert not intersect(box, (cx - r, cy - r, cx + r, cy + r)), text.text


def test_a_sparse_scatter_names_its_dots_and_its_quadrants() -> None:
    dots = [Dot("Acme (a1)", 100_000, 50, "advocate", "Acme"), Dot("Globex (a2)", 10_000, -20)]
    root = parse(
        scatter_chart(
            dots,
            title="t",
            desc="d",
            x_label="ARR",
            y_label="NPS",
            x_threshold=50_000,
            y_threshold=0,
            corner_labels=("Grow", "Advocate", "Fix", "Protect"),
        )
    )
    labels = {t.text: t for t in find_all(root, "text", "point-label")}
    assert set(labels) == {"Acme", "Globex (a2)"}
    assert labels["Acme"].find(SVG + "title").text == "Acme (a1)"
    assert {t.text for t in find_all(root, "text", "corner")} == {
        "Grow",
        "Advocate",
        "Fix",
        "Protect",
    }


def test_a_crowded_scatter_labels_some_dots_and_keeps_tooltips_on_all() -> None:
    dots = [Dot(f"Account number {i}", 1000 + i, (i % 7) - 3) for i in range(200)]
    svg = scatter_chart(
        dots, title="t", desc="d", x_label="ARR", y_label="NPS", x_threshold=1100, y_threshold=0
    )
    assert_no_text_overlaps(svg)
    root = parse(svg)
    assert len(find_all(root, "text", "point-label")) < 200
    assert all(c.find(SVG + "title") is not None for c in find_all(root, "circle", "dot"))


def test_stacks_and_steps_have_legends_without_overlaps() -> None:
    periods = [f"2026-11-{d:02d}" for d in range(1, 31)]
    layers = [Layer(f"Layer with a long name {i}", {p: 25 for p in periods}) for i in range(4)]
    svg = stacked_area_chart(periods, layers, title="t", desc="d")
    assert_no_text_overlaps(svg)
    assert len(find_all(parse(svg), "g", "legend")) == 4
    curves = [Steps(f"curve {i}", [1, 50, 300], [0.97, 0.9, 0.8]) for i in range(5)]
    svg = step_chart(curves, title="t", desc="d", x_label="days", y_label="share")
    assert_no_text_overlaps(svg)
    ticks = [
        float(t.text or "")
        for t in find_all(parse(svg), "text", "tick")
        if t.get("text-anchor") == "end"
    ]
    assert min(ticks) >= 0.5  # fitted to the curves, not 0 to 1


def test_charts_fill_their_box_by_their_viewbox() -> None:
    root = parse(bar_chart([Bar("a", 1, 0, 2)], title="t", desc="d"))
    assert root.get("viewBox", "").startswith("0 0 900 ")
    assert root.get("preserveAspectRatio") == "xMidYMid meet"


def test_hostile_names_in_legends_and_end_labels_are_escaped() -> None:
    series = [Series(HOSTILE, {"q1": Point(1, 0, 2)}), Series("b", {"q1": Point(3)})]
    svg = line_chart(["q1"], series, title="t", desc="d", end_labels=True)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    parse(svg)


def test_the_overlap_check_sees_two_texts_on_top_of_each_other() -> None:
    crowded = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100">'
        '<text x="10" y="50" font-size="12" text-anchor="start">first label</text>'
        '<text x="40" y="55" font-size="12" text-anchor="start">second</text></svg>'
    )
    with pytest.raises(AssertionError):
        assert_no_text_overlaps(crowded)
