"""Comparisons of NPS between groups, and multiple-testing control.

* :func:`compare_nps` - two independent samples; Wald interval for the difference.
* :func:`compare_clustered` - respondents clustered within accounts; a cluster-robust
  (linearised, "sandwich") variance of the NPS ratio estimator computed over accounts.
* :func:`benjamini_hochberg` - Benjamini and Hochberg (1995) false discovery rate control.

This module imports only the standard library, NumPy and, lazily, SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.nps import check_confidence, check_counts, two_sided_z


@dataclass(frozen=True, slots=True)
class NPSComparison:
    """Difference ``A - B`` of two NPS values on the -100..100 scale (so within -200..200).

    ``se`` is the standard error of the difference on the same scale and ``p_value`` the
    two-sided normal-approximation p-value for "no difference".
    """

    diff: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    nps_a: float
    nps_b: float
    method: str
    confidence: float


def _two_sided_p(diff: float, se: float) -> float:
    """Two-sided normal p-value ``2 * (1 - Phi(|diff| / se))``.

    A zero standard error gives 1 when the difference is zero and 0 otherwise.
    """
    from scipy.stats import norm

    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return float(2.0 * norm.sf(abs(diff) / se))


def _comparison(
    nps_a: float, nps_b: float, se: float, confidence: float, method: str
) -> NPSComparison:
    z = two_sided_z(confidence)
    diff = nps_a - nps_b
    return NPSComparison(
        diff=100.0 * diff,
        ci_low=100.0 * max(-2.0, diff - z * se),
        ci_high=100.0 * min(2.0, diff + z * se),
        se=100.0 * se,
        p_value=_two_sided_p(diff, se),
        nps_a=100.0 * nps_a,
        nps_b=100.0 * nps_b,
        method=method,
        confidence=confidence,
    )


def _nps_and_variance(counts: Sequence[int]) -> tuple[float, float]:
    """NPS (as a fraction) and its trinomial variance ``(p_P + p_D - NPS^2) / n``."""
    if len(counts) != 3:
        raise ValueError("counts must be (promoters, passives, detractors)")
    p, a, d = check_counts(*counts)
    n = p + a + d
    if n == 0:
        raise ValueError("each group needs at least one response")
    nps = (p - d) / n
    return nps, max(0.0, (p + d) / n - nps * nps) / n


def compare_nps(
    group_a_counts: Sequence[int],
    group_b_counts: Sequence[int],
    confidence: float = 0.95,
) -> NPSComparison:
    """Compare the NPS of two independent groups (``A - B``).

    Each group is a ``(promoters, passives, detractors)`` triple.  Within a group the NPS
    variance is the trinomial one, ``(p_P + p_D - (p_P - p_D)^2) / n``; the groups are
    independent, so the variance of the difference is the sum of the two.  The interval is
    the Wald interval ``diff +/- z * se`` (clipped to [-200, 200]) and the p-value is the
    two-sided normal-approximation test of no difference, ``2 * (1 - Phi(|diff| / se))``.
    It assumes respondents are independent; use :func:`compare_clustered` when they cluster
    within accounts.
    """
    level = check_confidence(confidence)
    nps_a, var_a = _nps_and_variance(group_a_counts)
    nps_b, var_b = _nps_and_variance(group_b_counts)
    return _comparison(nps_a, nps_b, math.sqrt(var_a + var_b), level, "wald (independent)")


def _as_account_array(by_account: object) -> np.ndarray:
    arr = np.asarray(by_account)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError("per-account counts must have shape (accounts, 3)")
    if arr.dtype.kind in "iu" and arr.size:
        # integer arrays (the common case, thousands of accounts): one vectorised check
        if int(arr.min()) < 0:
            for row in arr.tolist():
                check_counts(*row)
    else:
        for row in arr.tolist():
            check_counts(*row)
    arr = arr.astype(np.int64)
    if arr.shape[0] < 2:
        raise ValueError("a cluster-robust variance needs at least two accounts per group")
    if arr.sum() == 0:
        raise ValueError("each group needs at least one response")
    return arr


def clustered_nps_and_variance(by_account: object) -> tuple[float, float]:
    """NPS ratio estimator over accounts and its linearised (sandwich) variance.

    With ``y_i = P_i - D_i`` and ``n_i`` responses in account ``i`` of ``k`` accounts, the
    NPS is the ratio estimator ``R = sum(y_i) / sum(n_i)``.  Its Taylor-linearised variance,
    treating accounts as the independent units (the standard ratio-estimator / cluster
    sandwich variance; see e.g. Cochran, Sampling Techniques, on ratio estimators), with the usual
    ``k / (k - 1)`` small-sample factor, is
    ``Var(R) = k / (k - 1) * sum((y_i - R n_i)^2) / (sum n_i)^2``.
    """
    arr = _as_account_array(by_account)
    y = (arr[:, 0] - arr[:, 2]).astype(float)
    n_i = arr.sum(axis=1).astype(float)
    total = float(n_i.sum())
    ratio = float(y.sum()) / total
    k = arr.shape[0]
    resid = y - ratio * n_i
    var = k / (k - 1) * float(np.dot(resid, resid)) / (total * total)
    return ratio, var


def compare_clustered(
    a_by_account: object,
    b_by_account: object,
    confidence: float = 0.95,
) -> NPSComparison:
    """Compare two groups' NPS (``A - B``) when respondents cluster within accounts.

    Each argument is an array of shape ``(accounts, 3)`` of per-account
    ``(promoters, passives, detractors)``.  Each group's NPS is the ratio estimator
    ``sum(P - D) / sum(n)`` with the cluster-robust linearised variance of
    :func:`clustered_nps_and_variance`; accounts in the two groups are assumed distinct, so
    the variances add.  Interval and p-value use the normal approximation, as in
    :func:`compare_nps`.  With one respondent per account the variance equals the naive
    trinomial variance up to the factor ``k / (k - 1)``.
    """
    level = check_confidence(confidence)
    nps_a, var_a = clustered_nps_and_variance(a_by_account)
    nps_b, var_b = clustered_nps_and_variance(b_by_account)
    return _comparison(nps_a, nps_b, math.sqrt(var_a + var_b), level, "cluster-robust (accounts)")


def _clustered_from_sums(
    k: int, y: int, n: int, syy: int, syn: int, snn: int
) -> tuple[float, float]:
    """:func:`clustered_nps_and_variance` from exact integer sums over ``k`` accounts:
    ``y = sum(y_i)``, ``n = sum(n_i)``, ``syy = sum(y_i^2)``, ``syn = sum(y_i n_i)``,
    ``snn = sum(n_i^2)``.  With ``R = y / n``,
    ``sum((y_i - R n_i)^2) * n^2 = n^2 syy - 2 y n syn + y^2 snn``, an exact integer."""
    ss_times_n2 = n * n * syy - 2 * y * n * syn + y * y * snn
    return y / n, k / (k - 1) * max(0, ss_times_n2) / float(n) ** 4


def compare_clustered_each_vs_rest(
    by_account: object,
    segment: object,
    confidence: float = 0.95,
    account: object | None = None,
) -> list[NPSComparison | None]:
    """:func:`compare_clustered` of every segment against all the other accounts at once.

    ``by_account`` is an ``(accounts, 3)`` array of per-account counts and ``segment`` the
    segment number (``0 .. S-1``) of each row.  The result has one comparison per segment
    number (``None`` where either side has fewer than two accounts).  Each side's variance
    comes from five integer sums, and the rest's sums are the totals minus the segment's, so
    a scan over ``S`` segments costs one pass over the accounts instead of ``S``; the numbers
    equal :func:`compare_clustered` up to floating-point rounding.

    Without ``account`` every row is its own cluster.  With ``account`` (an id per row, for
    segments that split an account, such as a user's trait) the rows are per segment and
    account, and on the rest's side each account's answers outside the segment form one
    cluster: the rest's sums of squares come from the accounts' totals,
    ``sum((T_i - M_i)^2) = sum(T_i^2) - 2 sum(T_i M_i) + sum(M_i^2)`` for an account's total
    ``T_i`` and its part ``M_i`` in the segment.  Accounts on both sides make the two sides
    correlated; that covariance (usually positive: an account's users answer alike) is left
    out, which widens the interval.
    """
    level = check_confidence(confidence)
    arr = np.asarray(by_account)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError("per-account counts must have shape (accounts, 3)")
    if arr.dtype.kind not in "iu" or (arr.size and int(arr.min()) < 0):
        arr = np.asarray([check_counts(*row) for row in arr.tolist()], dtype=np.int64)
    arr = arr.astype(np.int64).reshape(-1, 3)
    codes = np.asarray(segment, dtype=np.int64)
    if codes.shape != (arr.shape[0],) or (codes.size and int(codes.min()) < 0):
        raise ValueError("segment must give one non-negative segment number per row")
    y = arr[:, 0] - arr[:, 2]
    n = arr.sum(axis=1)
    if np.any(n == 0):
        raise ValueError("each account needs at least one response")
    size = int(codes.max()) + 1 if codes.size else 0

    def per_segment(column: np.ndarray) -> list[int]:
        sums = np.zeros(size, dtype=np.int64)
        np.add.at(sums, codes, column)  # exact integer sums
        return [int(v) for v in sums.tolist()]

    columns = (np.ones_like(y), y, n, y * y, y * n, n * n)
    sums = [per_segment(column) for column in columns]
    if account is None:
        totals = [int(c.sum()) for c in columns]
        rests = [
            [t - m for t, m in zip(totals, mine, strict=True)] for mine in zip(*sums, strict=True)
        ]
    else:
        ids = np.asarray(account)
        if ids.shape != (arr.shape[0],):
            raise ValueError("account must give one account id per row")
        _, which = np.unique(ids, return_inverse=True)
        accounts = int(which.max()) + 1 if which.size else 0
        big_y = np.zeros(accounts, dtype=np.int64)
        big_n = np.zeros(accounts, dtype=np.int64)
        np.add.at(big_y, which, y)
        np.add.at(big_n, which, n)
        row_y, row_n = big_y[which], big_n[which]
        whole = per_segment((row_n == n).astype(np.int64))  # accounts only in the segment
        cross_yy = per_segment(row_y * y)
        cross_yn = per_segment(row_y * n + y * row_n)
        cross_nn = per_segment(row_n * n)
        totals = [
            accounts,
            int(big_y.sum()),
            int(big_n.sum()),
            int((big_y * big_y).sum()),
            int((big_y * big_n).sum()),
            int((big_n * big_n).sum()),
        ]
        rests = [
            [
                totals[0] - whole[g],
                totals[1] - sums[1][g],
                totals[2] - sums[2][g],
                totals[3] - 2 * cross_yy[g] + sums[3][g],
                totals[4] - cross_yn[g] + sums[4][g],
                totals[5] - 2 * cross_nn[g] + sums[5][g],
            ]
            for g in range(size)
        ]
    results: list[NPSComparison | None] = []
    for g in range(size):
        mine = [col[g] for col in sums]
        rest = rests[g]
        if mine[0] < 2 or rest[0] < 2:
            results.append(None)
            continue
        nps_a, var_a = _clustered_from_sums(*mine)
        nps_b, var_b = _clustered_from_sums(*rest)
        results.append(
            _comparison(nps_a, nps_b, math.sqrt(var_a + var_b), level, "cluster-robust (accounts)")
        )
    return results


@dataclass(frozen=True, slots=True)
class FDRResult:
    """Benjamini-Hochberg adjusted p-values and discoveries, in the input order."""

    adjusted: tuple[float, ...]
    discoveries: tuple[bool, ...]
    q: float


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> FDRResult:
    """Benjamini and Hochberg (1995) step-up procedure controlling the FDR at level ``q``.

    Adjusted p-values come from :func:`scipy.stats.false_discovery_control` (``method="bh"``);
    hypothesis ``i`` is a discovery when its adjusted p-value is at most ``q``, which is the
    same set the step-up rule ``p_(k) <= k q / m`` selects.
    """
    from scipy.stats import false_discovery_control

    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    ps = np.asarray(p_values, dtype=float)
    if ps.ndim != 1:
        raise ValueError("p_values must be one-dimensional")
    if ps.size == 0:
        return FDRResult(adjusted=(), discoveries=(), q=q)
    if np.any(np.isnan(ps)) or np.any(ps < 0.0) or np.any(ps > 1.0):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.asarray(false_discovery_control(ps, method="bh"), dtype=float)
    return FDRResult(
        adjusted=tuple(float(x) for x in adjusted),
        discoveries=tuple(bool(x <= q) for x in adjusted),
        q=q,
    )
