"""The SVG charts of the report pages: geometry, accessibility and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from jinja2 import Environment
from markupsafe import Markup

from feedback.web.charts import (
    Bar,
    Dot,
    Layer,
    Point,
    Series,
    Steps,
    Zone,
    bar_chart,
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
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input


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
    x = linear((-100, 100), (170, 900 - 320))
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
    assert find_all(root, "g", "segment")[0].get("aria-label") == "a: 1.0 (0 to 2.0)"


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
    svg = line_chart(periods, [Series("all", points)], title="t", desc="d", width=720, height=280)
    root = parse(svg)
    lines = find_all(root, "polyline", "line")
    bands = find_all(root, "polygon", "band")
    assert len(lines) == 2 and len(bands) == 2  # Q3 has no answers: two runs
    y = linear((-100, 100), (280 - 48, 16))
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
    assert len(find_all(root, "rect", "legend")) == 2


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
    )
    root = parse(svg)
    x = linear((0, 100_000 * 1.05), (64, 704))
    y = linear((-100, 100), (372, 16))
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
    y = linear((0, 100), (280 - 48, 16))
    green, red = find_all(root, "rect", "zone")
    assert "zone-green" in green.get("class").split()
    assert float(green.get("y")) == pytest.approx(y(100))
    assert float(green.get("height")) == pytest.approx(y(70) - y(100))
    assert float(red.get("y")) + float(red.get("height")) == pytest.approx(y(0))
    assert green.get("aria-label") == "green: 70 to 100"
    label = next(t for t in find_all(root, "text") if t.text == "green")
    assert float(label.get("x")) > 900 - 40  # in the right margin, clear of the lines
    assert "<script" not in svg and "&lt;script&gt;" in svg


def test_stacked_layers_reach_the_total_and_break_at_gaps() -> None:
    periods = ["d1", "d2", "d3", "d4"]
    red = Layer("Red", {"d1": 25, "d2": 50, "d4": 10}, {"d1": "1"}, "band-red")
    green = Layer("Green", {"d1": 75, "d2": 50, "d4": 90}, {"d1": "3"}, "band-green")
    svg = stacked_area_chart(periods, [red, green], title="t", desc="d", height=260)
    root = parse(svg)
    y = linear((0, 100), (260 - 48 - 18, 16))
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
