"""Tests for analytics.churn, each checked against an independent computation."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import CensoredData, fisher_exact, norm
from scipy.stats import logrank as scipy_logrank

from analytics.churn import (
    ChurnRate,
    churn_rates,
    compare_risk,
    kaplan_meier,
    logrank,
    point_biserial,
)
from analytics.churn import _logrank_chi2 as logrank_chi2

Z95 = float(norm.ppf(0.975))


def test_importing_churn_loads_no_scipy() -> None:
    probe = (
        "import sys, analytics.churn; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


# --- churn rates -------------------------------------------------------------------------------


def test_churn_rate_interval_matches_the_closed_wilson_formula() -> None:
    # k = 3, n = 10, p = 0.3, z = 1.959964, z^2 = 3.841459
    # centre = (p + z^2 / 2n) / (1 + z^2 / n) = (0.3 + 0.192073) / 1.384146 = 0.355506
    # half   = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    #        = 1.959964 * sqrt(0.021 + 0.009604) / 1.384146 = 0.247714
    # interval = [0.107791, 0.603221]
    n, k, z = 10, 3, Z95
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    [rate] = churn_rates({"trial": (n, k)})
    assert rate == ChurnRate("trial", 10, 3, 0.3, rate.ci_low, rate.ci_high)
    assert rate.ci_low == pytest.approx(centre - half, rel=1e-9)
    assert rate.ci_high == pytest.approx(centre + half, rel=1e-9)
    assert (rate.ci_low, rate.ci_high) == pytest.approx((0.107791, 0.603221), abs=1e-6)


def test_churn_rates_keep_the_input_order_and_leave_empty_groups_blank() -> None:
    rates = churn_rates({"b": (10, 0), "a": (0, 0), "c": (4, 4)})
    assert [r.group for r in rates] == ["b", "a", "c"]
    assert rates[1] == ChurnRate("a", 0, 0, None, None, None)
    assert rates[0].rate == 0.0 and rates[0].ci_low == 0.0
    assert rates[2].rate == 1.0 and rates[2].ci_high == 1.0


@pytest.mark.parametrize(
    ("groups", "confidence"),
    [({"x": (3, 4)}, 0.95), ({"x": (-1, 0)}, 0.95), ({"x": (2.5, 1)}, 0.95), ({"x": (5, 1)}, 1.0)],
)
def test_churn_rates_reject_invalid_input(groups: dict, confidence: float) -> None:
    with pytest.raises(ValueError):
        churn_rates(groups, confidence)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n))
    ),
    st.floats(min_value=0.5, max_value=0.999),
)
def test_churn_rate_intervals_contain_the_rate_and_stay_within_0_and_1(
    pair: tuple[int, int], confidence: float
) -> None:
    [rate] = churn_rates({"g": pair}, confidence)
    assert rate.rate is not None and rate.ci_low is not None and rate.ci_high is not None
    assert 0.0 <= rate.ci_low <= rate.rate <= rate.ci_high <= 1.0


# --- risk comparison ---------------------------------------------------------------------------


def _conditional_mean(row1: int, row2: int, col1: int, psi: float) -> float:
    """E[a] under Fisher's noncentral hypergeometric distribution with odds ratio ``psi``."""
    support = range(max(0, col1 - row2), min(row1, col1) + 1)
    weights = [math.comb(row1, a) * math.comb(row2, col1 - a) * psi**a for a in support]
    return sum(a * w for a, w in zip(support, weights, strict=True)) / sum(weights)


def test_relative_risk_and_odds_ratio_match_a_hand_computed_two_by_two_table() -> None:
    # exposed 30 accounts / 12 churned: risk 0.4; reference 70 / 7: risk 0.1 -> RR = 4.0
    # sample OR = (12 * 63) / (18 * 7) = 756 / 126 = 6.0; the conditional MLE is a little
    # smaller and solves E[a | margins; psi] = 12 for the noncentral hypergeometric.
    result = compare_risk(("trial", 30, 12), ("paid", 70, 7))
    assert (result.exposed, result.reference) == ("trial", "paid")
    assert result.relative_risk == pytest.approx(4.0)
    # Katz log interval: SE = sqrt(1/12 - 1/30 + 1/7 - 1/70)
    se = math.sqrt(1 / 12 - 1 / 30 + 1 / 7 - 1 / 70)
    assert result.rr_low == pytest.approx(4.0 * math.exp(-Z95 * se), rel=1e-9)
    assert result.rr_high == pytest.approx(4.0 * math.exp(Z95 * se), rel=1e-9)
    assert (12 * 63) / (18 * 7) == 6.0
    assert result.odds_ratio is not None
    assert result.odds_ratio == pytest.approx(6.0, rel=0.05)
    assert _conditional_mean(30, 70, 19, result.odds_ratio) == pytest.approx(12.0, rel=1e-6)
    assert result.or_low is not None and result.or_high is not None
    assert result.or_low < result.odds_ratio < result.or_high
    assert result.fisher_p == pytest.approx(fisher_exact([[12, 18], [7, 63]]).pvalue, rel=1e-12)
    assert result.fisher_p < 0.01


def test_no_churn_at_all_gives_no_ratios_and_a_fisher_p_of_one() -> None:
    result = compare_risk(("a", 30, 0), ("b", 70, 0))
    assert result.relative_risk is None and result.rr_low is None and result.rr_high is None
    assert result.odds_ratio is None and result.or_low is None and result.or_high is None
    assert result.fisher_p == pytest.approx(1.0)


def test_everyone_churning_gives_a_relative_risk_of_one_and_no_odds_ratio() -> None:
    result = compare_risk(("a", 30, 30), ("b", 70, 70))
    assert result.relative_risk == pytest.approx(1.0)
    assert result.odds_ratio is None and result.or_low is None and result.or_high is None
    assert result.fisher_p == pytest.approx(1.0)


def test_an_empty_group_gives_no_ratios() -> None:
    for exposed, reference in [(("a", 0, 0), ("b", 70, 7)), (("a", 30, 12), ("b", 0, 0))]:
        result = compare_risk(exposed, reference)
        assert result.relative_risk is None and result.odds_ratio is None
        assert result.rr_low is None and result.or_high is None
        assert result.fisher_p == pytest.approx(1.0)


def test_a_reference_without_churn_gives_infinite_ratios() -> None:
    result = compare_risk(("a", 30, 12), ("b", 70, 0))
    assert result.relative_risk == math.inf and result.rr_high == math.inf
    assert result.rr_low is None
    assert result.odds_ratio == math.inf and result.or_high == math.inf
    assert result.or_low is not None and result.or_low > 1.0


def test_compare_risk_rejects_more_churned_than_accounts() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        compare_risk(("a", 3, 4), ("b", 10, 1))


inner_group = st.integers(min_value=2, max_value=30).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=1, max_value=n - 1))
)


@settings(max_examples=100, deadline=None)
@given(inner_group, inner_group)
def test_swapping_the_groups_or_the_outcomes_inverts_the_ratios_and_keeps_the_fisher_p(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    forward = compare_risk(("x", *first), ("y", *second))
    backward = compare_risk(("y", *second), ("x", *first))
    retained = compare_risk(
        ("x", first[0], first[0] - first[1]), ("y", second[0], second[0] - second[1])
    )
    assert forward.relative_risk is not None and backward.relative_risk is not None
    assert forward.relative_risk * backward.relative_risk == pytest.approx(1.0)
    assert forward.rr_low * backward.rr_high == pytest.approx(1.0)  # type: ignore[operator]
    assert forward.odds_ratio is not None
    assert backward.odds_ratio is not None and retained.odds_ratio is not None
    assert forward.odds_ratio * backward.odds_ratio == pytest.approx(1.0, rel=1e-6)
    assert forward.odds_ratio * retained.odds_ratio == pytest.approx(1.0, rel=1e-6)
    assert forward.fisher_p == pytest.approx(backward.fisher_p, rel=1e-9)
    assert forward.fisher_p == pytest.approx(retained.fisher_p, rel=1e-9)


# --- point-biserial correlation ----------------------------------------------------------------


def test_point_biserial_equals_numpy_corrcoef_on_the_same_data() -> None:
    values = [3.0, 8.5, 1.0, 9.0, 4.5, 7.0, 2.0, 6.5, 5.0, 10.0]
    churned = [False, True, False, True, False, True, False, False, True, True]
    result = point_biserial(values, churned)
    expected = np.corrcoef(values, np.array(churned, dtype=float))[0, 1]
    assert result.n == 10
    assert result.r == pytest.approx(expected, rel=1e-12)
    # Fisher z interval: tanh(atanh(r) +/- z / sqrt(n - 3))
    half = Z95 / math.sqrt(10 - 3)
    assert result.ci_low == pytest.approx(math.tanh(math.atanh(expected) - half), rel=1e-9)
    assert result.ci_high == pytest.approx(math.tanh(math.atanh(expected) + half), rel=1e-9)
    assert result.p is not None and 0.0 < result.p < 0.05


@pytest.mark.parametrize(
    ("values", "churned"),
    [
        ([1.0, 2.0, 3.0, 4.0], [False, False, False, False]),  # nobody churned
        ([1.0, 2.0, 3.0, 4.0], [True, True, True, True]),  # everyone churned
        ([5.0, 5.0, 5.0, 5.0], [True, False, True, False]),  # constant metric
        ([1.0, 2.0], [True, False]),  # too few
        ([], []),
    ],
)
def test_point_biserial_is_blank_for_degenerate_input(
    values: list[float], churned: list[bool]
) -> None:
    result = point_biserial(values, churned)
    assert (result.r, result.p, result.ci_low, result.ci_high) == (None, None, None, None)
    assert result.n == len(values)


def test_point_biserial_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        point_biserial([1.0, 2.0, 3.0], [True, False])


# --- survival ----------------------------------------------------------------------------------


def test_kaplan_meier_matches_a_hand_worked_example() -> None:
    """Durations [1, 2, 2, 3, 4], churned [1, 1, 0, 1, 0].

    t=1: 5 at risk, 1 churn -> S = 4/5 = 0.8
    t=2: 4 at risk (the account censored at 2 still counts), 1 churn -> S = 0.8 * 3/4 = 0.6
    t=3: 2 at risk, 1 churn -> S = 0.6 * 1/2 = 0.3
    t=4: 1 at risk, censored -> S stays 0.3
    """
    curve = kaplan_meier("all", [1, 2, 2, 3, 4], [True, True, False, True, False])
    assert curve.group == "all"
    assert curve.times == [1.0, 2.0, 3.0, 4.0]
    assert curve.survival == pytest.approx([0.8, 0.6, 0.3, 0.3])
    assert (curve.at_risk, curve.events) == (5, 3)


def test_kaplan_meier_of_nothing_is_an_empty_curve() -> None:
    curve = kaplan_meier("none", [], [])
    assert (curve.times, curve.survival, curve.at_risk, curve.events) == ([], [], 0, 0)


def test_kaplan_meier_without_churn_stays_at_one() -> None:
    curve = kaplan_meier("loyal", [1.0, 2.0, 5.0], [False, False, False])
    assert curve.survival == [1.0, 1.0, 1.0]
    assert curve.events == 0


def test_kaplan_meier_rejects_negative_durations() -> None:
    with pytest.raises(ValueError):
        kaplan_meier("bad", [-1.0, 2.0], [True, False])


def _censored(durations: list[float], events: list[bool]) -> CensoredData:
    t, e = np.asarray(durations, dtype=float), np.asarray(events, dtype=bool)
    return CensoredData(uncensored=t[e], right=t[~e])


GROUP_A = (
    [1.0, 2.0, 2.0, 3.0, 5.0, 6.0, 8.0, 9.0],
    [True, True, False, True, True, False, True, False],
)
GROUP_B = ([2.0, 3.0, 4.0, 6.0, 7.0, 9.0, 11.0], [False, True, True, True, False, True, False])


def test_k_sample_log_rank_equals_scipy_for_two_groups() -> None:
    chi2_stat, df = logrank_chi2(
        [(np.asarray(d, dtype=float), np.asarray(e, dtype=bool)) for d, e in (GROUP_A, GROUP_B)]
    )  # type: ignore[misc]
    reference = scipy_logrank(_censored(*GROUP_A), _censored(*GROUP_B))
    assert df == 1
    assert chi2_stat == pytest.approx(float(reference.statistic) ** 2, abs=1e-9)
    from scipy.stats import chi2

    assert float(chi2.sf(chi2_stat, df)) == pytest.approx(float(reference.pvalue), abs=1e-9)
    assert logrank({"a": GROUP_A, "b": GROUP_B}) == pytest.approx(float(reference.pvalue), abs=1e-9)


def test_log_rank_gives_a_small_p_for_clearly_different_groups() -> None:
    rng = np.random.default_rng(7)
    groups = {
        name: (list(rng.exponential(scale, 60)), [True] * 60)
        for name, scale in [("fast", 1.0), ("mid", 4.0), ("slow", 12.0)]
    }
    p3 = logrank(groups)
    p2 = logrank({"fast": groups["fast"], "slow": groups["slow"]})
    assert p3 is not None and p3 < 1e-6
    assert p2 is not None and p2 < 1e-6


def test_log_rank_gives_a_large_p_for_identical_groups() -> None:
    assert logrank({"a": GROUP_A, "b": GROUP_A, "c": GROUP_A}) == pytest.approx(1.0)
    assert logrank({"a": GROUP_A, "b": GROUP_A}) == pytest.approx(1.0)


def test_k_sample_log_rank_does_not_depend_on_group_order() -> None:
    third = ([1.5, 2.5, 4.0, 4.0, 10.0], [True, False, True, True, True])
    forward = logrank({"a": GROUP_A, "b": GROUP_B, "c": third})
    backward = logrank({"c": third, "b": GROUP_B, "a": GROUP_A})
    assert forward is not None
    assert forward == pytest.approx(backward, rel=1e-9)


def test_log_rank_is_none_without_two_groups_or_without_churn() -> None:
    assert logrank({"a": GROUP_A}) is None
    assert logrank({"a": GROUP_A, "b": ([], [])}) is None
    assert logrank({"a": ([1.0, 2.0], [False, False]), "b": ([3.0], [False])}) is None
    assert logrank({"a": ([1.0], [True]), "b": ([1.0], [True])}) is None
    assert logrank({"a": ([1.0], [True]), "b": ([1.0], [True]), "c": ([1.0], [True])}) is None


@pytest.mark.parametrize(
    "table",
    [
        [[900, 5000], [300, 6000]],
        [[23, 2], [9, 16]],
        [[1, 0], [3, 5]],
        [[0, 4], [2, 5]],
        [[5, 0], [0, 7]],
        [[1, 1], [1, 1]],
        [[12, 7], [0, 9]],
    ],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_the_fast_conditional_odds_ratio_interval_is_scipys(
    table: list[list[int]], confidence: float
) -> None:
    """Same numbers as scipy.stats.contingency.odds_ratio(kind="conditional"), which takes
    about a second for a table of 12,000 accounts."""
    from scipy.stats.contingency import odds_ratio

    from analytics.churn import _conditional_odds_ratio_ci

    want = odds_ratio(table, kind="conditional").confidence_interval(confidence)
    low, high = _conditional_odds_ratio_ci(table, confidence)
    assert low == pytest.approx(float(want.low), rel=1e-9, abs=1e-12)
    assert high == pytest.approx(float(want.high), rel=1e-9)
