"""Churn statistics: rates, risk comparisons, correlations and survival curves.

* :func:`churn_rates` - churn proportions with Wilson (1927, JASA 22:209-212) score intervals.
* :func:`compare_risk` - relative risk with the Katz et al. (1978, Biometrics 34:469-474)
  log interval, the conditional maximum-likelihood odds ratio with its exact interval
  (Cornfield 1956; as in R's ``fisher.test``), and Fisher's exact two-sided test.
* :func:`point_biserial` - the point-biserial correlation, i.e. Pearson's ``r`` with a 0/1
  variable, with a Fisher z-transform interval.
* :func:`kaplan_meier` - the Kaplan and Meier (1958, JASA 53:457-481) product-limit estimate.
* :func:`logrank` - the Mantel (1966) / Peto and Peto (1972) log-rank test for ``k`` groups.

Degenerate inputs (empty groups, no variation, zero cells) give ``None`` rather than NaN, and
never make SciPy warn.  This module imports only the standard library, NumPy and, lazily, SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.nps import _check_count, check_confidence


@dataclass(frozen=True, slots=True)
class ChurnRate:
    """The churn proportion of one group, on the 0..1 scale.

    ``rate``, ``ci_low`` and ``ci_high`` are ``None`` when ``accounts == 0``.
    """

    group: str
    accounts: int
    churned: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class RiskComparison:
    """Relative risk and odds ratio of churn for ``exposed`` versus ``reference``.

    A ratio is ``None`` when it is undefined (0/0) and ``inf`` when only its denominator is zero.
    An interval bound is ``None`` when SciPy cannot define it.
    """

    exposed: str
    reference: str
    relative_risk: float | None
    rr_low: float | None
    rr_high: float | None
    odds_ratio: float | None
    or_low: float | None
    or_high: float | None
    fisher_p: float


@dataclass(frozen=True, slots=True)
class Correlation:
    """A point-biserial correlation with its p-value and confidence interval.

    All fields but ``n`` are ``None`` when ``n < 3`` or either variable is constant.
    """

    r: float | None
    p: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True, slots=True)
class SurvivalCurve:
    """A Kaplan-Meier step function: ``survival[i]`` holds from ``times[i]`` on.

    ``at_risk`` is the number of accounts at the start and ``events`` the number of churns.
    """

    group: str
    times: list[float]
    survival: list[float]
    at_risk: int
    events: int


def _finite_or_none(value: object) -> float | None:
    """Return ``value`` as a float, with NaN mapped to ``None`` (infinities are kept)."""
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _check_group(name: str, accounts: object, churned: object) -> tuple[int, int]:
    """Validate an (accounts, churned) pair: non-negative integers with churned <= accounts."""
    n = _check_count(f"{name}: accounts", accounts)
    k = _check_count(f"{name}: churned", churned)
    if k > n:
        raise ValueError(f"{name}: churned ({k}) cannot exceed accounts ({n})")
    return n, k


def churn_rates(groups: Mapping[str, tuple[int, int]], confidence: float = 0.95) -> list[ChurnRate]:
    """Churn rate per group with a Wilson score interval, in the input order.

    ``groups`` maps a group name to ``(accounts, churned)``.  The Wilson (1927) interval is
    ``(p + z^2/2n +/- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, computed with
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.
    """
    level = check_confidence(confidence)
    rates: list[ChurnRate] = []
    for name, pair in groups.items():
        try:
            accounts, churned = pair
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected (accounts, churned), got {pair!r}") from None
        n, k = _check_group(name, accounts, churned)
        if n == 0:
            rates.append(ChurnRate(name, 0, 0, None, None, None))
            continue
        from scipy.stats import binomtest

        ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        rate = k / n
        # Clamp against rounding so that the interval always contains the rate.
        low = min(max(float(ci.low), 0.0), rate)
        high = max(min(float(ci.high), 1.0), rate)
        rates.append(ChurnRate(name, n, k, rate, low, high))
    return rates


def _conditional_odds_ratio_ci(table: list[list[int]], confidence: float) -> tuple[float, float]:
    """The exact conditional interval of ``scipy.stats.contingency.odds_ratio(table,
    kind="conditional").confidence_interval(confidence)``, computed faster.

    Same definition and the same root finding as SciPy (bracket by doubling, then Brent with
    ``xtol=1e-13``): the lower bound is the noncentrality where ``P(X >= a) = alpha / 2`` and
    the upper where ``P(X <= a) = alpha / 2`` under Fisher's noncentral hypergeometric
    distribution of the top-left cell. SciPy evaluates that distribution afresh for every
    trial value, which takes about a second for a table of 12,000 accounts; here the log
    binomial terms over the support are computed once and each trial is one vector sum.
    """
    from scipy.optimize import brentq
    from scipy.special import gammaln, logsumexp

    a, b = table[0]
    c, d = table[1]
    total, row, col = a + b + c + d, a + b, a + c
    lo, hi = max(0, col - (total - row)), min(row, col)
    support = np.arange(lo, hi + 1, dtype=float)
    other = total - row
    base = (
        gammaln(row + 1)
        - gammaln(support + 1)
        - gammaln(row - support + 1)
        + gammaln(other + 1)
        - gammaln(col - support + 1)
        - gammaln(other - col + support + 1)
    )
    index = a - lo

    def log_probs(nc: float) -> np.ndarray:
        weights = base + support * math.log(nc)
        return weights - logsumexp(weights)

    def cdf(nc: float) -> float:  # P(X <= a)
        return float(np.exp(logsumexp(log_probs(nc)[: index + 1])))

    def sf(nc: float) -> float:  # P(X >= a)
        return float(np.exp(logsumexp(log_probs(nc)[index:])))

    def solve(func: Any) -> float:
        nc, factor = 1.0, 2.0
        value = func(nc)
        if value == 0:
            return nc
        if value > 0:
            nc /= factor
            while func(nc) > 0:
                nc /= factor
            bracket = (nc, factor * nc)
        else:
            nc *= factor
            while func(nc) < 0:
                nc *= factor
            bracket = (nc / factor, nc)
        return float(brentq(func, *bracket, xtol=1e-13))

    alpha = 0.5 * (1.0 - confidence)
    # as SciPy: a sample odds ratio of 0 (a*d = 0 < b*c) has lower bound 0, one of infinity
    # (b*c = 0 < a*d) upper bound infinity
    lower = 0.0 if a * d == 0 < b * c else solve(lambda nc: sf(nc) - alpha)
    upper = math.inf if b * c == 0 < a * d else solve(lambda nc: -cdf(nc) + alpha)
    return lower, upper


def compare_risk(
    exposed: tuple[str, int, int], reference: tuple[str, int, int], confidence: float = 0.95
) -> RiskComparison:
    """Compare churn in ``exposed`` against ``reference``; each is ``(name, accounts, churned)``.

    * Relative risk ``(a/n1) / (c/n2)`` with the Katz log interval, from
      ``scipy.stats.contingency.relative_risk``.  ``None`` when a group is empty or neither
      group churned; ``inf`` when only the reference churned nobody.
    * Odds ratio: the conditional maximum-likelihood estimate (noncentral hypergeometric) with
      its exact conditional interval, from ``scipy.stats.contingency.odds_ratio(kind=
      "conditional")``.  ``None`` when a row or column of the 2x2 table is empty.
    * Fisher's exact two-sided p-value from ``scipy.stats.fisher_exact``.
    """
    level = check_confidence(confidence)
    exposed_name, n1, a = exposed[0], *_check_group(exposed[0], exposed[1], exposed[2])
    reference_name, n2, c = reference[0], *_check_group(reference[0], reference[1], reference[2])

    from scipy.stats import fisher_exact
    from scipy.stats.contingency import odds_ratio, relative_risk

    table = [[a, n1 - a], [c, n2 - c]]
    fisher_p = min(float(fisher_exact(table, alternative="two-sided").pvalue), 1.0)

    rr: float | None = None
    rr_low: float | None = None
    rr_high: float | None = None
    if n1 > 0 and n2 > 0 and (a > 0 or c > 0):
        rr_result = relative_risk(a, n1, c, n2)
        rr = _finite_or_none(rr_result.relative_risk)
        rr_ci = rr_result.confidence_interval(confidence_level=level)
        rr_low, rr_high = _finite_or_none(rr_ci.low), _finite_or_none(rr_ci.high)

    or_: float | None = None
    or_low: float | None = None
    or_high: float | None = None
    if n1 > 0 and n2 > 0 and 0 < a + c < n1 + n2:
        or_result = odds_ratio(table, kind="conditional")
        or_ = _finite_or_none(or_result.statistic)
        low_ci, high_ci = _conditional_odds_ratio_ci(table, level)
        or_low, or_high = _finite_or_none(low_ci), _finite_or_none(high_ci)

    return RiskComparison(
        exposed=exposed_name,
        reference=reference_name,
        relative_risk=rr,
        rr_low=rr_low,
        rr_high=rr_high,
        odds_ratio=or_,
        or_low=or_low,
        or_high=or_high,
        fisher_p=fisher_p,
    )


def point_biserial(
    values: Sequence[float], churned: Sequence[bool], confidence: float = 0.95
) -> Correlation:
    """Point-biserial correlation between a metric and churn (Tate 1954, Ann. Math. Stat.).

    It is Pearson's ``r`` with churn coded 0/1: ``scipy.stats.pearsonr`` gives ``r`` and its
    two-sided p-value, and the interval is Fisher's z-transform ``tanh(atanh(r) +/- z/sqrt(n-3))``
    from ``.confidence_interval``; ``None`` bounds when ``n == 3`` or ``|r| == 1``, where the
    transform is infinite.
    """
    level = check_confidence(confidence)
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError("values must be a one-dimensional sequence")
    y = _check_events(churned, "churned").astype(float)
    if len(x) != len(y):
        raise ValueError(f"values ({len(x)}) and churned ({len(y)}) differ in length")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(None, None, None, None, n)

    from scipy.stats import pearsonr

    result = pearsonr(x, y)
    r = float(result.statistic)
    low = high = None
    # Fisher's z needs n > 3 and |r| < 1 (atanh(+-1) is infinite, and SciPy would warn)
    if n > 3 and abs(r) < 1.0:
        ci = result.confidence_interval(confidence_level=level)
        low, high = _finite_or_none(ci.low), _finite_or_none(ci.high)
    return Correlation(r=r, p=float(result.pvalue), ci_low=low, ci_high=high, n=n)


def _check_events(events: Sequence[bool], name: str = "events") -> np.ndarray:
    """Validate a sequence of booleans (or 0/1) and return it as a boolean array."""
    array = np.asarray(events)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence")
    if array.size and not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must be booleans or 0/1")
    return array.astype(bool)


def _check_survival(
    durations: Sequence[float], events: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate durations (finite, non-negative) and event flags of equal length."""
    t = np.asarray(durations, dtype=float)
    if t.ndim != 1:
        raise ValueError("durations must be a one-dimensional sequence")
    e = _check_events(events)
    if len(t) != len(e):
        raise ValueError(f"durations ({len(t)}) and events ({len(e)}) differ in length")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("durations must be finite and non-negative")
    return t, e


def kaplan_meier(group: str, durations: Sequence[float], events: Sequence[bool]) -> SurvivalCurve:
    """Kaplan-Meier product-limit survival curve (Kaplan and Meier 1958).

    ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)`` with ``d_j`` churns at ``t_j`` and ``n_j``
    accounts still at risk just before ``t_j`` (censored at ``t_j`` counts as at risk).
    Computed by ``scipy.stats.ecdf`` on ``CensoredData``; ``events[i]`` is true for a churn
    and false for an account censored (still active) at ``durations[i]``.
    """
    t, e = _check_survival(durations, events)
    if len(t) == 0:
        return SurvivalCurve(group, [], [], 0, 0)

    from scipy.stats import CensoredData, ecdf

    sf = ecdf(CensoredData(uncensored=t[e], right=t[~e])).sf
    return SurvivalCurve(
        group=group,
        times=[float(v) for v in sf.quantiles],
        survival=[float(v) for v in sf.probabilities],
        at_risk=len(t),
        events=int(e.sum()),
    )


def _logrank_chi2(samples: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, int] | None:
    """k-sample log-rank chi-square statistic and its degrees of freedom.

    At each distinct churn time ``t_j`` with ``n_ij`` at risk and ``d_ij`` churns in group ``i``
    (totals ``n_j``, ``d_j``), ``U_i = sum_j (d_ij - n_ij d_j / n_j)`` and
    ``V_il = sum_j d_j (n_j - d_j) / (n_j - 1) * (n_ij / n_j) (delta_il - n_lj / n_j)``.
    The statistic is ``U' V^- U`` on the first ``k - 1`` groups (a generalized inverse, with
    ``rank(V)`` degrees of freedom; Kalbfleisch and Prentice 2002, section 7.3).
    ``None`` when there are no churns or ``V`` is zero.
    """
    k = len(samples)
    all_times = np.concatenate([t[e] for t, e in samples])
    if all_times.size == 0:
        return None
    event_times = np.unique(all_times)
    # counts by binary search over each group's sorted times (the same integers as counting
    # t >= s and t[e] == s at every event time s, without a pass per event time)
    at_risk_rows, death_rows = [], []
    for t, e in samples:
        times, events = np.sort(t), np.sort(t[e])
        at_risk_rows.append(times.size - np.searchsorted(times, event_times, side="left"))
        death_rows.append(
            np.searchsorted(events, event_times, side="right")
            - np.searchsorted(events, event_times, side="left")
        )
    at_risk = np.array(at_risk_rows)
    deaths = np.array(death_rows)
    n_j = at_risk.sum(axis=0).astype(float)
    d_j = deaths.sum(axis=0).astype(float)
    share = at_risk / n_j
    u = (deaths - share * d_j).sum(axis=1)
    factor = np.zeros_like(n_j)
    multi = n_j > 1
    factor[multi] = d_j[multi] * (n_j[multi] - d_j[multi]) / (n_j[multi] - 1)
    v = np.empty((k, k))
    for i in range(k):
        for m in range(k):
            v[i, m] = np.sum(factor * share[i] * ((i == m) - share[m]))
    u_sub, v_sub = u[: k - 1], v[: k - 1, : k - 1]
    df = int(np.linalg.matrix_rank(v_sub))
    if df == 0:
        return None
    stat = float(u_sub @ np.linalg.pinv(v_sub) @ u_sub)
    return max(stat, 0.0), df


def logrank(groups: Mapping[str, tuple[Sequence[float], Sequence[bool]]]) -> float | None:
    """p-value of the log-rank test that all groups share one survival curve.

    Two groups use ``scipy.stats.logrank`` (two-sided; Mantel 1966).  More groups use the
    k-sample log-rank chi-square with ``k - 1`` degrees of freedom (see ``_logrank_chi2``);
    for two groups that statistic is the square of SciPy's z.  Empty groups are ignored.
    ``None`` when fewer than two groups are non-empty, nobody churned or there is no
    information (zero variance).
    """
    samples = [_check_survival(d, e) for d, e in groups.values()]
    samples = [(t, e) for t, e in samples if len(t) > 0]
    if len(samples) < 2:
        return None
    result = _logrank_chi2(samples)
    if result is None:
        return None
    stat, df = result
    if len(samples) == 2:
        from scipy.stats import CensoredData
        from scipy.stats import logrank as scipy_logrank

        (t1, e1), (t2, e2) = samples
        x = CensoredData(uncensored=t1[e1], right=t1[~e1])
        y = CensoredData(uncensored=t2[e2], right=t2[~e2])
        return float(scipy_logrank(x, y, alternative="two-sided").pvalue)

    from scipy.stats import chi2

    return float(chi2.sf(stat, df))


@dataclass(frozen=True, slots=True)
class LogRankTest:
    """A log-rank test: the chi-square statistic, its degrees of freedom and the p-value.

    ``groups`` names the non-empty groups compared.  ``chi2``, ``df`` and ``p`` are ``None``
    when the test is undefined; ``reason`` then says why (otherwise it is ``None``).
    """

    groups: list[str]
    chi2: float | None
    df: int | None
    p: float | None
    reason: str | None


def logrank_test(groups: Mapping[str, tuple[Sequence[float], Sequence[bool]]]) -> LogRankTest:
    """The log-rank test of :func:`logrank` with its statistic: ``chi2`` is ``U' V^- U``
    (see ``_logrank_chi2``) on ``df`` degrees of freedom, and ``p`` is :func:`logrank`'s
    p-value (for two groups SciPy's two-sided p, which equals ``chi2.sf(z**2, 1)``).

    A report shows the statistic beside p so that a reader can tell a large effect from a
    large sample.  Empty groups are left out, as in :func:`logrank`.
    """
    checked = {name: _check_survival(d, e) for name, (d, e) in groups.items()}
    present = {name: s for name, s in checked.items() if len(s[0]) > 0}
    names = list(present)
    if len(present) < 2:
        return LogRankTest(names, None, None, None, "fewer than two groups have accounts")
    samples = list(present.values())
    if not any(e.any() for _, e in samples):
        return LogRankTest(names, None, None, None, "no churn in any group")
    result = _logrank_chi2(samples)
    if result is None:
        return LogRankTest(
            names, None, None, None, "no information: no churn while two groups were at risk"
        )
    stat, df = result
    p = logrank({name: groups[name] for name in names})
    return LogRankTest(names, stat, df, p, None)


@dataclass(frozen=True, slots=True)
class RiskSummary:
    """A :class:`RiskComparison` fit to show: every number finite or ``None``, and for each
    ratio a ``reason`` in words whenever the ratio or a bound of its interval is ``None``
    (e.g. "no churn among promoters").  ``exposed`` and ``reference`` are plural nouns."""

    exposed: str
    reference: str
    exposed_accounts: int
    exposed_churned: int
    reference_accounts: int
    reference_churned: int
    relative_risk: float | None
    rr_low: float | None
    rr_high: float | None
    rr_reason: str | None
    odds_ratio: float | None
    or_low: float | None
    or_high: float | None
    or_reason: str | None
    fisher_p: float


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def relative_risk_reason(
    exposed: tuple[str, int, int], reference: tuple[str, int, int]
) -> str | None:
    """Why the relative risk of churn ``(a/n1) / (c/n2)`` is undefined, or why its Katz
    interval (on ``log RR``, which needs ``a > 0`` and ``c > 0``) is; ``None`` when both
    are defined.  Each group is ``(plural noun, accounts, churned)``."""
    (name1, n1, a), (name2, n2, c) = exposed, reference
    if n1 == 0:
        return f"no {name1}"
    if n2 == 0:
        return f"no {name2}"
    if a == 0 and c == 0:
        return f"no churn among {name1} or {name2}"
    if c == 0:
        return f"no churn among {name2}"
    if a == 0:
        return f"no churn among {name1}: the ratio is 0 and has no upper bound"
    return None


def odds_ratio_reason(exposed: tuple[str, int, int], reference: tuple[str, int, int]) -> str | None:
    """Why the conditional odds ratio of churn, or a bound of its exact interval, is
    undefined or infinite; ``None`` when all three are finite."""
    (name1, n1, a), (name2, n2, c) = exposed, reference
    if n1 == 0:
        return f"no {name1}"
    if n2 == 0:
        return f"no {name2}"
    if a + c == 0:
        return f"no churn among {name1} or {name2}"
    if a + c == n1 + n2:
        return f"every one of the {name1} and {name2} churned"
    if c == 0:
        return f"no churn among {name2}"
    if a == n1:
        return f"every one of the {name1} churned"
    if a == 0:
        return f"no churn among {name1}: the ratio is 0 and has no finite upper bound"
    if c == n2:
        return f"every one of the {name2} churned: the ratio is 0 and has no finite upper bound"
    return None


def risk_summary(
    exposed: tuple[str, int, int], reference: tuple[str, int, int], confidence: float = 0.95
) -> RiskSummary:
    """:func:`compare_risk` of two groups, each ``(plural noun, accounts, churned)``, with
    infinities mapped to ``None`` and the reasons of :func:`relative_risk_reason` and
    :func:`odds_ratio_reason`: a page or a JSON reader never sees "inf" or "nan"."""
    risk = compare_risk(exposed, reference, confidence)
    rr = (_finite(risk.relative_risk), _finite(risk.rr_low), _finite(risk.rr_high))
    or_ = (_finite(risk.odds_ratio), _finite(risk.or_low), _finite(risk.or_high))
    return RiskSummary(
        exposed=exposed[0],
        reference=reference[0],
        exposed_accounts=exposed[1],
        exposed_churned=exposed[2],
        reference_accounts=reference[1],
        reference_churned=reference[2],
        relative_risk=rr[0],
        rr_low=rr[1],
        rr_high=rr[2],
        rr_reason=relative_risk_reason(exposed, reference) if None in rr else None,
        odds_ratio=or_[0],
        or_low=or_[1],
        or_high=or_[2],
        or_reason=odds_ratio_reason(exposed, reference) if None in or_ else None,
        fisher_p=risk.fisher_p,
    )
