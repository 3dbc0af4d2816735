"""Which segments differ from the rest for real: each segment's NPS against everyone else's,
with a p-value, and the Benjamini-Hochberg false discovery rate over the whole scan.

Respondents cluster within accounts, so for segments that are properties of the account
(plan, industry, company size, CSM, the CSM's manager) the comparison uses the account-level
(cluster-robust) variance; for role, where one account's users sit in several segments, the
groups share accounts and the independent-samples Wald comparison is used instead. Each row
says which.

A custom trait (`trait:NAME`) may be the account's or the user's: the response's snapshot
merges both, so the scan cannot tell them apart and uses the cluster-robust variance for
every trait (its rows say "cluster-robust (accounts)"). That is right for account traits; for
a user trait each side still counts an account's answers as one cluster, and only the
covariance of an account's answers on both sides is left out (usually positive, so the
interval is wider, not narrower, than it should be), where the independent comparison would
ignore the clustering and be too narrow.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import numpy as np
from numpy.typing import NDArray

from analytics.compare import (
    NPSComparison,
    benjamini_hochberg,
    compare_clustered_each_vs_rest,
    compare_nps,
)
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal
from feedback.reports.queries import add_scope, segment_counts_sql
from feedback.reports.services import check_environment, is_trait, report_rows, trait_key

DIMENSIONS = {
    "plan": "r.plan",
    "industry": "r.industry",
    "company_size": "r.company_size",
    "csm": "c.email",
    "manager": "m.email",
    "role": "r.role",
}
ACCOUNT_LEVEL = {"plan", "industry", "company_size", "csm", "manager"}
MIN_ACCOUNTS = 2  # the cluster-robust variance needs two accounts on each side


class SegmentResult(msgspec.Struct, gc=False):
    """One segment against the rest of the answers (its JSON object has these keys in this
    order); NPS, difference and interval rounded to 2 places."""

    key: str
    responses: int
    accounts: int
    nps: float
    rest_nps: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str  # which comparison: cluster-robust (accounts) or independent Wald
    p_adjusted: float  # Benjamini-Hochberg over the scan
    significant: bool  # a discovery at the scan's q


class SegmentScan(msgspec.Struct):
    """Every segment of a dimension against the rest, by p-value (`segment_scan`)."""

    dimension: str
    confidence: float
    q: float
    segments: list[SegmentResult]


async def segment_scan(
    principal: Principal,
    dimension: str,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
    q: float = 0.05,
    environment: str = PRODUCTION,
) -> SegmentScan:
    if is_trait(dimension):
        key, key_args = trait_key("dimension", dimension)
    elif dimension in DIMENSIONS:
        key, key_args = DIMENSIONS[dimension], ()
    else:
        raise InputError("dimension", f"must be one of {', '.join(DIMENSIONS)} or trait:NAME")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")
    if not 0 < q < 1:
        raise InputError("q", "must be between 0 and 1, e.g. 0.05")
    # answers without a trait are dropped below, from the grouped rows: a second copy of the
    # trait's expression in WHERE would read every response's JSON twice
    where, args = ["1 = 1" if key_args else f"{key} IS NOT NULL"], [*key_args]
    check_environment(environment)
    add_scope(where, args, principal, date_from, date_to, environment)
    sql = segment_counts_sql(principal, key, where)
    rows = [row for row in await report_rows(sql, *args) if row["key"] is not None]
    keys = [str(row["key"]) for row in rows]
    cells = np.array(
        [(int(r["promoters"]), int(r["passives"]), int(r["detractors"])) for r in rows],
        dtype=np.int64,
    ).reshape(-1, 3)
    names = sorted(set(keys))
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.array([code_of[k] for k in keys], dtype=np.int64)

    clustered = dimension in ACCOUNT_LEVEL or is_trait(dimension)
    totals = cells.sum(axis=0)
    # account-level dimensions: every segment against the rest from per-segment sums at once;
    # a trait may split an account between segments, so the rest's side then sums each
    # account's answers outside the segment as one cluster
    accounts = [row["account"] for row in rows] if is_trait(dimension) else None
    scan = (
        compare_clustered_each_vs_rest(cells, codes, confidence, account=accounts)
        if clustered
        else []
    )
    compared: list[tuple[str, NDArray[np.int64], NPSComparison]] = []
    for code, name in enumerate(names):
        mine = cells[codes == code]
        if len(mine) == len(cells):
            continue
        if clustered:
            comparison = scan[code]
            if comparison is None:  # fewer than two accounts on one side
                continue
        else:
            own = mine.sum(axis=0)
            comparison = compare_nps(own.tolist(), (totals - own).tolist(), confidence)
        compared.append((name, mine, comparison))
    fdr = benjamini_hochberg([c.p_value for _, _, c in compared], q)
    results = [
        SegmentResult(
            key=name,
            responses=int(mine.sum()),
            accounts=len(mine),
            nps=round(comparison.nps_a, 2),
            rest_nps=round(comparison.nps_b, 2),
            diff=round(comparison.diff, 2),
            ci_low=round(comparison.ci_low, 2),
            ci_high=round(comparison.ci_high, 2),
            p_value=comparison.p_value,
            method=comparison.method,
            p_adjusted=adjusted,
            significant=found,
        )
        for (name, mine, comparison), adjusted, found in zip(
            compared, fdr.adjusted, fdr.discoveries, strict=True
        )
    ]
    results.sort(key=lambda r: r.p_value)
    return SegmentScan(dimension, confidence, q, results)
