"""analytics.churn_segments and the churn additions of analytics.churn: checked against
SciPy, published figures and hand computations, and with hypothesis for their invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analytics.churn import logrank_test, risk_summary
from analytics.churn_segments import (
    SegmentCounts,
    churn_by_segment,
    fisher_p,
    newcombe_interval,
    wilson_interval,
)


def test_newcombes_interval_reproduces_his_published_example() -> None:
    """Newcombe (1998), Table II, example (a): 56/70 against 48/80, method 10 gives
    0.0524 to 0.3339 for the difference 0.2."""
    diff, low, high = newcombe_interval(56, 70, 48, 80)
    assert diff == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_newcombes_interval_with_no_events_on_one_side() -> None:
    """Example (f) of the same table: 0/10 against 0/20 gives -0.1611 to 0.2775."""
    _, low, high = newcombe_interval(0, 10, 0, 20)
    assert (low, high) == pytest.approx((-0.1611, 0.2775), abs=5e-5)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_scipy_and_contains_the_rate(
    n: int, data: st.DataObject, confidence: float
) -> None:
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n, confidence)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


@settings(max_examples=200, deadline=None)
@given(n1=st.integers(1, 400), n2=st.integers(1, 400), data=st.data())
def test_newcombes_interval_contains_the_difference_and_stays_in_range(
    n1: int, n2: int, data: st.DataObject
) -> None:
    k1, k2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    diff, low, high = newcombe_interval(k1, n1, k2, n2)
    assert -1.0 <= low <= diff <= high <= 1.0
    assert diff == pytest.approx(k1 / n1 - k2 / n2)


segment_strategy = st.builds(
    lambda key, n, churn, answered, det, det_churn, answers: (
        key,
        n,
        churn,
        answered,
        det,
        det_churn,
        answers,
    ),
    st.text("abcdefgh", min_size=1, max_size=4),
    st.integers(0, 200),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
)


def build(raw: tuple) -> SegmentCounts:
    key, n, churn, answered, det, det_churn, answers = raw
    churned = round(n * churn)
    respondents = round(n * answered)
    detractors = round(respondents * det)
    detractors_churned = min(round(detractors * det_churn), churned)
    return SegmentCounts(key, n, churned, respondents, detractors, detractors_churned, *answers)


@settings(max_examples=150, deadline=None)
@given(st.lists(segment_strategy, min_size=1, max_size=8, unique_by=lambda r: r[0]))
def test_the_scan_is_consistent_and_bh_never_lowers_a_p_value(raw: list[tuple]) -> None:
    segments = [build(r) for r in raw]
    results = churn_by_segment(segments)
    assert [r.key for r in results] == [s.key for s in segments]
    compared = [r for r in results if r.p_value is not None]
    for r in results:
        values = [
            v for v in (r.rate, r.diff, r.p_value, r.q_value, r.detractor_rr) if v is not None
        ]
        assert all(math.isfinite(v) for v in values)
        if r.rate is not None:
            assert r.rate_low <= r.rate <= r.rate_high  # type: ignore[operator]
        if r.diff is not None:
            assert r.diff_low <= r.diff <= r.diff_high  # type: ignore[operator]
            assert r.q_value is not None and r.p_value <= r.q_value <= 1.0  # type: ignore[operator]
        else:
            assert r.compare_reason and r.q_value is None and not r.significant
        if r.detractor_rr is None or r.detractor_rr_low is None:
            assert r.detractor_rr_reason
        else:
            assert r.detractor_rr_low <= r.detractor_rr <= r.detractor_rr_high  # type: ignore[operator]
    # BH is monotone: ordered by p, the q-values do not decrease
    ordered = sorted(compared, key=lambda r: r.p_value)  # type: ignore[arg-type, return-value]
    qs = [r.q_value for r in ordered]
    assert qs == sorted(qs)  # type: ignore[type-var]


def test_the_scan_matches_scipy_on_three_segments() -> None:
    segments = [
        SegmentCounts("free", 100, 40, 80, 30, 18, 20, 30, 50),
        SegmentCounts("paid", 120, 20, 100, 20, 6, 60, 30, 20),
        SegmentCounts("premium", 60, 3, 50, 5, 1, 40, 8, 4),
    ]
    results = {r.key: r for r in churn_by_segment(segments)}
    p = {
        "free": stats.fisher_exact([[40, 60], [23, 157]]).pvalue,
        "paid": stats.fisher_exact([[20, 100], [43, 117]]).pvalue,
        "premium": stats.fisher_exact([[3, 57], [60, 160]]).pvalue,
    }
    ranked = sorted(p, key=p.get)  # type: ignore[arg-type]
    bh = {name: p[name] * 3 / (rank + 1) for rank, name in enumerate(ranked)}
    bh[ranked[1]] = min(bh[ranked[1]], bh[ranked[2]])
    bh[ranked[0]] = min(bh[ranked[0]], bh[ranked[1]])
    for name, result in results.items():
        assert result.p_value == pytest.approx(p[name], rel=1e-12)
        assert result.q_value == pytest.approx(min(bh[name], 1.0), rel=1e-12)
    free = results["free"]
    assert free.detractor_share == pytest.approx(30 / 80)
    rr = stats.contingency.relative_risk(18, 30, 22, 70)
    ci = rr.confidence_interval(0.95)
    assert (free.detractor_rr, free.detractor_rr_low, free.detractor_rr_high) == pytest.approx(
        (rr.relative_risk, ci.low, ci.high)
    )
    assert free.nps == pytest.approx(100 * (20 - 50) / 100)
    assert free.significant and free.diff is not None and free.diff > 0


def test_undefined_detractor_risks_say_why() -> None:
    (none_churned,) = churn_by_segment([SegmentCounts("a", 10, 0, 10, 4, 0)])
    assert none_churned.detractor_rr is None
    assert none_churned.detractor_rr_reason == "no churn among detractors or other accounts"
    assert none_churned.compare_reason == "no accounts outside the segment"
    only_detractors, _ = churn_by_segment(
        [SegmentCounts("a", 5, 2, 5, 5, 2), SegmentCounts("b", 5, 1)]
    )
    assert only_detractors.detractor_rr_reason == "no other accounts"
    rest_clean, _ = churn_by_segment(
        [SegmentCounts("a", 10, 3, 10, 4, 3), SegmentCounts("b", 5, 1)]
    )
    assert rest_clean.detractor_rr is None
    assert rest_clean.detractor_rr_reason == "no churn among other accounts"


def test_fisher_p_is_scipys() -> None:
    assert fisher_p(3, 10, 1, 12) == pytest.approx(stats.fisher_exact([[3, 7], [1, 11]]).pvalue)


def test_risk_summary_never_holds_an_infinity() -> None:
    summary = risk_summary(("detractors", 10, 4), ("promoters", 10, 0))
    assert summary.relative_risk is None and summary.rr_reason == "no churn among promoters"
    assert summary.odds_ratio is None and summary.or_reason == "no churn among promoters"
    assert summary.or_low is not None and math.isfinite(summary.or_low)
    defined = risk_summary(("detractors", 10, 4), ("promoters", 10, 2))
    assert defined.rr_reason is None and defined.or_reason is None
    assert defined.relative_risk == pytest.approx(2.0)


def test_logrank_test_gives_the_statistic_behind_the_p_value() -> None:
    groups = {
        "a": ([1.0, 2.0, 3.0, 4.0, 5.0], [True, True, False, True, False]),
        "b": ([2.0, 4.0, 6.0, 8.0, 9.0], [False, True, False, True, False]),
    }
    result = logrank_test(groups)
    x = stats.CensoredData(uncensored=[1.0, 2.0, 4.0], right=[3.0, 5.0])
    y = stats.CensoredData(uncensored=[4.0, 8.0], right=[2.0, 6.0, 9.0])
    z = stats.logrank(x, y).statistic
    assert result.chi2 == pytest.approx(z**2) and result.df == 1
    assert result.p == pytest.approx(stats.logrank(x, y).pvalue)
    assert result.reason is None


def test_logrank_test_says_why_it_has_no_answer() -> None:
    assert logrank_test({"a": ([1.0], [True])}).reason == "fewer than two groups have accounts"
    none = logrank_test({"a": ([1.0], [False]), "b": ([2.0], [False])})
    assert none.chi2 is None and none.reason == "no churn in any group"
