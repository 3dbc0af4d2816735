"""Tests for analytics.compare: independent and clustered comparisons, and BH FDR control."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from analytics.compare import (
    benjamini_hochberg,
    clustered_nps_and_variance,
    compare_clustered,
    compare_nps,
)

Z95 = float(norm.ppf(0.975))


def test_comparing_two_independent_groups_matches_a_hand_computation() -> None:
    # A = (50, 30, 20): NPS 0.3, Var = (0.7 - 0.09) / 100 = 0.0061
    # B = (30, 40, 30): NPS 0.0, Var = (0.6 - 0.00) / 100 = 0.0060
    # diff = 0.3 -> 30; SE = sqrt(0.0121) = 0.11 -> 11
    # 95% interval = 30 +/- 1.959964 * 11 = 30 +/- 21.5596 = [8.4404, 51.5596]
    # z = 30 / 11 = 2.7273; two-sided p = 2 * (1 - Phi(2.7273)) = 0.0064
    result = compare_nps((50, 30, 20), (30, 40, 30))
    assert result.diff == pytest.approx(30.0)
    assert result.se == pytest.approx(11.0)
    assert result.ci_low == pytest.approx(8.4404, abs=1e-3)
    assert result.ci_high == pytest.approx(51.5596, abs=1e-3)
    assert result.p_value == pytest.approx(2 * norm.sf(30 / 11), rel=1e-12)
    assert result.p_value == pytest.approx(0.0064, abs=1e-4)
    assert (result.nps_a, result.nps_b) == pytest.approx((30.0, 0.0))


def test_comparing_a_group_with_itself_gives_no_difference() -> None:
    result = compare_nps((10, 5, 5), (10, 5, 5))
    assert result.diff == 0.0
    assert result.p_value == pytest.approx(1.0)
    assert result.ci_low == pytest.approx(-result.ci_high)


def test_comparing_groups_rejects_bad_counts() -> None:
    with pytest.raises(ValueError):
        compare_nps((1, 2), (1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compare_nps((1, -2, 3), (1, 2, 3))
    with pytest.raises(ValueError):
        compare_nps((0, 0, 0), (1, 2, 3))


def test_the_clustered_variance_matches_a_hand_computation() -> None:
    # Accounts (P, A, D): (2,0,0), (0,0,2), (1,1,0): y = P - D = [2, -2, 1], n = [2, 2, 2].
    # R = 1 / 6. Residuals y - R n = [5/3, -7/3, 2/3]; squares sum to (25 + 49 + 4) / 9 = 78/9.
    # Var = k/(k-1) * 78/9 / 6^2 = 1.5 * 8.6667 / 36 = 0.361111.
    ratio, var = clustered_nps_and_variance([(2, 0, 0), (0, 0, 2), (1, 1, 0)])
    assert ratio == pytest.approx(1 / 6)
    assert var == pytest.approx(1.5 * (78 / 9) / 36)


def _naive_counts(by_account: np.ndarray) -> tuple[int, int, int]:
    p, a, d = by_account.sum(axis=0).tolist()
    return p, a, d


def test_with_strong_clustering_the_cluster_robust_error_is_larger_than_the_naive_one() -> None:
    # Every account answers unanimously (10 respondents each): the effective sample size is
    # the number of accounts, not of respondents.
    rng = np.random.default_rng(7)
    kinds = np.array([(10, 0, 0), (0, 10, 0), (0, 0, 10)])
    group_a = kinds[rng.choice(3, size=30, p=[0.5, 0.3, 0.2])]
    group_b = kinds[rng.choice(3, size=30, p=[0.4, 0.3, 0.3])]
    robust = compare_clustered(group_a, group_b)
    naive = compare_nps(_naive_counts(group_a), _naive_counts(group_b))
    assert robust.method == "cluster-robust (accounts)"
    assert robust.diff == pytest.approx(naive.diff)
    assert robust.se > 2.5 * naive.se  # about sqrt(10) times larger
    assert robust.ci_high - robust.ci_low > naive.ci_high - naive.ci_low
    assert robust.p_value > naive.p_value


def test_with_one_respondent_per_account_the_two_errors_agree_closely() -> None:
    rng = np.random.default_rng(11)
    eye = np.eye(3, dtype=int)
    group_a = eye[rng.choice(3, size=500, p=[0.5, 0.3, 0.2])]
    group_b = eye[rng.choice(3, size=400, p=[0.4, 0.3, 0.3])]
    robust = compare_clustered(group_a, group_b)
    naive = compare_nps(_naive_counts(group_a), _naive_counts(group_b))
    assert robust.diff == pytest.approx(naive.diff)
    # They differ only by the k / (k - 1) small-sample factor on each group's variance.
    assert robust.se == pytest.approx(naive.se, rel=0.005)
    assert robust.p_value == pytest.approx(naive.p_value, rel=0.05, abs=1e-6)


def test_the_clustered_interval_is_the_difference_plus_or_minus_z_standard_errors() -> None:
    a = [(3, 1, 0), (0, 2, 2), (5, 0, 1), (1, 1, 1)]
    b = [(0, 1, 3), (2, 2, 0), (1, 0, 4)]
    result = compare_clustered(a, b, confidence=0.95)
    assert result.ci_low == pytest.approx(result.diff - Z95 * result.se)
    assert result.ci_high == pytest.approx(result.diff + Z95 * result.se)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(result.diff) / result.se))


def test_clustered_comparisons_reject_malformed_input() -> None:
    with pytest.raises(ValueError):
        compare_clustered([(1, 2, 3)], [(1, 2, 3), (1, 0, 0)])  # one account
    with pytest.raises(ValueError):
        compare_clustered([(1, 2), (3, 4)], [(1, 2, 3), (1, 0, 0)])  # wrong shape
    with pytest.raises(ValueError):
        compare_clustered([(1, -2, 3), (1, 0, 0)], [(1, 2, 3), (1, 0, 0)])
    with pytest.raises(ValueError):
        compare_clustered([(1, 2, 3), (1, 0, 0)], [(1, 2, 3), (1, 0, 0)], confidence=1.0)


def test_benjamini_hochberg_matches_a_hand_worked_example() -> None:
    # p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4).
    # p * m / rank: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04.
    # Running minimum from the largest rank down: 0.04, 0.04, 0.02, 0.02.
    # Back in input order the adjusted p-values are [0.02, 0.04, 0.04, 0.02].
    # At q = 0.05 all four are discoveries (step-up: p_(4) = 0.04 <= 4 * 0.05 / 4 = 0.05).
    result = benjamini_hochberg([0.01, 0.04, 0.03, 0.005], q=0.05)
    assert result.adjusted == pytest.approx((0.02, 0.04, 0.04, 0.02))
    assert result.discoveries == (True, True, True, True)


def test_benjamini_hochberg_stops_at_the_largest_passing_rank() -> None:
    # Same p-values at q = 0.03: thresholds k q / m = 0.0075, 0.015, 0.0225, 0.03.
    # p_(4) = 0.04 > 0.03, p_(3) = 0.03 > 0.0225, p_(2) = 0.01 <= 0.015 -> ranks 1-2 rejected,
    # i.e. the inputs 0.01 and 0.005.
    result = benjamini_hochberg([0.01, 0.04, 0.03, 0.005], q=0.03)
    assert result.discoveries == (True, False, False, True)
    assert result.q == 0.03


def test_benjamini_hochberg_handles_empty_and_rejects_bad_input() -> None:
    assert benjamini_hochberg([]).discoveries == ()
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.5])
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, math.nan])
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5], q=0.0)


def test_each_segment_against_the_rest_equals_compare_clustered() -> None:
    """The one-pass scan from integer sums gives compare_clustered's numbers per segment."""
    from analytics.compare import compare_clustered, compare_clustered_each_vs_rest

    rng = np.random.default_rng(11)
    cells = rng.integers(0, 40, size=(500, 3))
    cells[cells.sum(axis=1) == 0, 1] = 1
    codes = rng.integers(0, 7, size=500)
    codes[:1] = 7  # a segment of one account: no comparison
    scan = compare_clustered_each_vs_rest(cells, codes, 0.9)
    assert len(scan) == 8 and scan[7] is None
    for g in range(7):
        want = compare_clustered(cells[codes == g], cells[codes != g], 0.9)
        got = scan[g]
        assert got is not None
        for field in ("diff", "ci_low", "ci_high", "se", "p_value", "nps_a", "nps_b"):
            assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9, abs=1e-12)
        assert got.method == want.method


def test_with_accounts_the_rest_sums_each_account_outside_the_segment_as_one_cluster() -> None:
    """Segments that split accounts (a user's trait): the rest's side is the accounts' answers
    outside the segment, one cluster per account, as compare_clustered sees them."""
    from analytics.compare import compare_clustered, compare_clustered_each_vs_rest

    rng = np.random.default_rng(5)
    pairs = sorted({(int(a), int(g)) for a, g in rng.integers(0, [60, 5], size=(150, 2))})
    pairs.append((999, 5))  # one account, all its answers in segment 5: no comparison
    ids = np.array([a for a, _ in pairs])
    codes = np.array([g for _, g in pairs])
    cells = rng.integers(0, 12, size=(len(pairs), 3))
    cells[cells.sum(axis=1) == 0, 0] = 1
    scan = compare_clustered_each_vs_rest(cells, codes, 0.95, account=ids)
    assert len(scan) == 6 and scan[5] is None
    for g in range(5):
        rest: dict[int, np.ndarray] = {}
        for a, code, row in zip(ids.tolist(), codes.tolist(), cells, strict=True):
            if code != g:
                rest[a] = rest.get(a, np.zeros(3, dtype=np.int64)) + row
        want = compare_clustered(cells[codes == g], np.array(list(rest.values())), 0.95)
        got = scan[g]
        assert got is not None
        for field in ("diff", "ci_low", "ci_high", "se", "p_value", "nps_a", "nps_b"):
            assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError):
        compare_clustered_each_vs_rest(cells, codes, 0.95, account=ids[:-1])
