"""Which segments drive churn: each segment's churn against the rest of the accounts.

Per segment (all counts are of accounts, except the NPS, which is of the answers of the
segment's accounts):

* the churn rate with its Wilson (1927) score interval;
* the NPS with the interval of :func:`analytics.nps.nps_interval` (Tango's score interval,
  as the NPS reports use);
* the detractor share (detractor accounts over the accounts that answered) and the
  detractors' relative risk of churn against the rest of the segment (Katz log interval,
  :func:`analytics.churn.relative_risk_reason` when it is undefined);
* the difference of its churn rate from the rest's, with Newcombe's (1998, Statistics in
  Medicine 17:873-890, method 10) hybrid score interval, and Fisher's exact two-sided p;
* Benjamini-Hochberg adjusted p-values (``q_value``) over the segments compared, and
  ``significant`` when ``q_value <= q``.

This module imports only the standard library, NumPy (through its imports) and, lazily, SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from analytics.churn import _check_group, relative_risk_reason
from analytics.compare import benjamini_hochberg
from analytics.nps import check_confidence, nps_interval, two_sided_z


@dataclass(frozen=True, slots=True)
class SegmentCounts:
    """What the scan needs of one segment: accounts and churned accounts; detractor accounts
    (by their mean score) and how many of them churned; accounts that answered; and the
    answers of the segment's accounts by category."""

    key: str
    accounts: int
    churned: int
    respondents: int = 0
    detractor_accounts: int = 0
    detractors_churned: int = 0
    promoter_answers: int = 0
    passive_answers: int = 0
    detractor_answers: int = 0


@dataclass(frozen=True, slots=True)
class SegmentChurn:
    """One segment against the rest (every number finite or ``None``; a ``*_reason`` says
    why a figure is ``None``). Rates and shares are on the 0..1 scale, NPS on -100..100."""

    key: str
    accounts: int
    churned: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    responses: int
    nps: float | None
    nps_low: float | None
    nps_high: float | None
    nps_precision: str
    respondents: int
    detractor_accounts: int
    detractor_share: float | None
    detractor_rr: float | None
    detractor_rr_low: float | None
    detractor_rr_high: float | None
    detractor_rr_reason: str | None
    rest_accounts: int
    rest_churned: int
    rest_rate: float | None
    diff: float | None  # rate - rest_rate
    diff_low: float | None
    diff_high: float | None
    p_value: float | None  # Fisher's exact, two-sided
    q_value: float | None  # Benjamini-Hochberg over the segments compared
    significant: bool
    compare_reason: str | None  # why the segment was not compared with the rest


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for ``k`` of ``n``:
    ``(p + z^2/2n +/- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, clamped to [0, 1] and
    to contain ``k/n``.  Closed form, the same bounds as ``scipy.stats.binomtest(k, n)
    .proportion_ci(method="wilson")``, without SciPy's per-call cost."""
    n, k = _check_group("wilson", n, k)
    if n == 0:
        raise ValueError("wilson: n must be positive")
    z = two_sided_z(check_confidence(confidence))
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    low = max(0.0, (centre - spread) / denominator)
    high = min(1.0, (centre + spread) / denominator)
    return min(low, p), max(high, p)


def newcombe_interval(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """The difference ``p1 - p2`` of two independent proportions with Newcombe's hybrid
    score interval (1998, method 10): with Wilson intervals ``(l1, u1)`` and ``(l2, u2)``,
    ``low = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and
    ``high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.  It stays inside [-1, 1] and, unlike
    Wald's, keeps its coverage with few events or rates near 0 or 1."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, min(low, d)), min(1.0, max(high, d))


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Fisher's exact two-sided p-value of the 2x2 table ``[[k1, n1-k1], [k2, n2-k2]]``."""
    from scipy.stats import fisher_exact

    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return min(float(fisher_exact(table, alternative="two-sided").pvalue), 1.0)


def _detractor_risk(
    segment: SegmentCounts, confidence: float
) -> tuple[float | None, float | None, float | None, str | None]:
    """Detractor accounts against the segment's other accounts: RR, its Katz interval, and
    the reason when any of them is undefined."""
    a, n1 = segment.detractors_churned, segment.detractor_accounts
    c, n2 = segment.churned - a, segment.accounts - n1
    reason = relative_risk_reason(("detractors", n1, a), ("other accounts", n2, c))
    if n1 == 0 or n2 == 0 or c == 0:
        return None, None, None, reason
    rr = (a / n1) / (c / n2)
    if a == 0:
        return 0.0, None, None, reason
    z = two_sided_z(confidence)
    se = math.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n2, 0.0))  # 0 when every one churned
    # clamped against rounding, so that the interval always contains the ratio
    low = min(math.exp(math.log(rr) - z * se), rr)
    high = max(math.exp(math.log(rr) + z * se), rr)
    return rr, low, high, None


def churn_by_segment(
    segments: Sequence[SegmentCounts], confidence: float = 0.95, q: float = 0.05
) -> list[SegmentChurn]:
    """Every segment against the rest of ``segments`` (the rest is the sum of the others),
    in the input order.  A segment is compared when both it and the rest have accounts;
    the Benjamini-Hochberg adjustment runs over the compared segments only."""
    level = check_confidence(confidence)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    for s in segments:
        _check_group(s.key, s.accounts, s.churned)
        _check_group(s.key, s.detractor_accounts, s.detractors_churned)
        if s.detractor_accounts > s.respondents or s.respondents > s.accounts:
            raise ValueError(f"{s.key}: detractor accounts <= respondents <= accounts")
        if s.detractors_churned > s.churned:
            raise ValueError(f"{s.key}: churned detractors cannot exceed churned accounts")
    total_n = sum(s.accounts for s in segments)
    total_k = sum(s.churned for s in segments)

    rows: list[SegmentChurn] = []
    compared: list[int] = []  # indexes into rows of the segments with a p-value
    for s in segments:
        n, k = s.accounts, s.churned
        rest_n, rest_k = total_n - n, total_k - k
        rate_low = rate_high = None
        if n > 0:
            rate_low, rate_high = wilson_interval(k, n, level)
        score = nps_interval(
            s.promoter_answers, s.passive_answers, s.detractor_answers, level, "score"
        )
        rr, rr_low, rr_high, rr_reason = _detractor_risk(s, level)
        diff = diff_low = diff_high = p = None
        reason = None
        if n == 0:
            reason = "no accounts in the segment"
        elif rest_n == 0:
            reason = "no accounts outside the segment"
        else:
            diff, diff_low, diff_high = newcombe_interval(k, n, rest_k, rest_n, level)
            p = fisher_p(k, n, rest_k, rest_n)
            compared.append(len(rows))
        rows.append(
            SegmentChurn(
                key=s.key,
                accounts=n,
                churned=k,
                rate=k / n if n else None,
                rate_low=rate_low,
                rate_high=rate_high,
                responses=score.n,
                nps=score.nps,
                nps_low=score.ci_low,
                nps_high=score.ci_high,
                nps_precision=score.precision,
                respondents=s.respondents,
                detractor_accounts=s.detractor_accounts,
                detractor_share=s.detractor_accounts / s.respondents if s.respondents else None,
                detractor_rr=rr,
                detractor_rr_low=rr_low,
                detractor_rr_high=rr_high,
                detractor_rr_reason=rr_reason,
                rest_accounts=rest_n,
                rest_churned=rest_k,
                rest_rate=rest_k / rest_n if rest_n else None,
                diff=diff,
                diff_low=diff_low,
                diff_high=diff_high,
                p_value=p,
                q_value=None,
                significant=False,
                compare_reason=reason,
            )
        )
    fdr = benjamini_hochberg([rows[i].p_value or 0.0 for i in compared], q)
    for i, adjusted, found in zip(compared, fdr.adjusted, fdr.discoveries, strict=True):
        # BH never lowers a p-value; max() keeps q >= p exact against rounding
        q_value = min(max(adjusted, rows[i].p_value or 0.0), 1.0)
        rows[i] = replace(rows[i], q_value=q_value, significant=found)
    return rows
