"""The health score's arithmetic: bounds, monotonicity, weight normalisation, bands."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.health import (
    Bands,
    band_of,
    coverage_component,
    detractor_component,
    health_score,
    normalise_weights,
    nps_component,
    percentile_components,
    score_matrix,
    trend_component,
    weights_from_coefficients,
)

NAMES = ("nps", "detractor_share", "coverage", "trend", "metric.logins")
component = st.one_of(st.none(), st.floats(-50, 150, allow_nan=False))
weight = st.floats(0, 1000, allow_nan=False, allow_subnormal=False)
components = st.fixed_dictionaries({n: component for n in NAMES})
weights = st.fixed_dictionaries({n: weight for n in NAMES})


@given(components, weights)
def test_a_score_stays_between_0_and_100(values: dict, w: dict) -> None:
    score = health_score(values, w)
    assert score is None or 0 <= score <= 100


@given(components, weights, st.sampled_from(NAMES), st.floats(0, 100))
def test_raising_a_positively_weighted_component_never_lowers_the_score(
    values: dict, w: dict, name: str, step: float
) -> None:
    before = health_score(values, w)
    if values[name] is None or before is None:
        return
    raised = {**values, name: values[name] + step}
    assert health_score(raised, w) >= before - 1e-9


@given(components, weights, st.floats(0.01, 100))
def test_scaling_every_weight_changes_nothing(values: dict, w: dict, factor: float) -> None:
    before = health_score(values, w)
    after = health_score(values, {k: v * factor for k, v in w.items()})
    assert (before is None) == (after is None)
    if before is not None:
        assert after == pytest.approx(before, abs=1e-9)


@given(weights)
def test_normalised_weights_sum_to_one(w: dict) -> None:
    if not any(v > 0 for v in w.values()):
        with pytest.raises(ValueError):
            normalise_weights(w)
        return
    normal = normalise_weights(w)
    assert math.isclose(sum(normal.values()), 1.0)
    assert all(v > 0 for v in normal.values())


@given(st.lists(components, min_size=1, max_size=20), weights)
def test_the_vectorised_score_matches_the_scalar_one(rows: list, w: dict) -> None:
    matrix = np.array([[np.nan if r[n] is None else r[n] for n in NAMES] for r in rows])
    vector = score_matrix(matrix, np.array([w[n] for n in NAMES]))
    for row, got in zip(rows, vector, strict=True):
        expected = health_score(row, w)
        if expected is None:
            assert np.isnan(got)
        else:
            assert got == pytest.approx(expected, abs=1e-9)


def test_missing_components_do_not_count_as_bad() -> None:
    w = {"nps": 50, "coverage": 50}
    assert health_score({"nps": 80.0, "coverage": None}, w) == 80.0
    assert health_score({"nps": None, "coverage": None}, w) is None


def test_components_on_a_worked_example() -> None:
    # 6 promoters, 2 passives, 2 detractors: NPS 40 -> 70 on the 0-100 scale
    assert nps_component(6, 2, 10) == 70.0
    assert detractor_component(2, 10) == 80.0
    assert coverage_component(3, 12) == 25.0
    assert coverage_component(5, 4) == 100.0
    # NPS rose from 0 to +40: 50 + 40 / 4
    assert trend_component((3, 1, 5), (1, 1, 5)) == 60.0
    assert trend_component((3, 1, 5), (0, 0, 0)) is None
    assert nps_component(0, 0, 0) is None


def test_percentiles_share_ranks_on_ties() -> None:
    assert percentile_components([5.0]).tolist() == [50.0]
    assert percentile_components([1.0, 2.0, 2.0, 3.0]).tolist() == [12.5, 50.0, 50.0, 87.5]


def test_bands_follow_the_thresholds() -> None:
    bands = Bands(green_min=70, red_below=40)
    assert [band_of(s, bands) for s in (70, 69.9, 40, 39.9, None)] == [
        "green",
        "yellow",
        "yellow",
        "red",
        "unknown",
    ]
    with pytest.raises(ValueError):
        Bands(green_min=30, red_below=40)


def test_model_coefficients_become_weights_for_protective_components() -> None:
    weights = weights_from_coefficients(
        {"nps": -0.04, "coverage": -0.01, "trend": 0.02}, {"nps": 20.0, "coverage": 20.0}
    )
    assert weights == {"nps": 80.0, "coverage": 20.0, "trend": 0.0}
