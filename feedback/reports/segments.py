"""Which segments differ from the rest for real: each segment's NPS against everyone else's,
with a p-value, and the Benjamini-Hochberg false discovery rate over the whole scan.

Respondents cluster within accounts, so for segments that are properties of the account
(plan, industry, company size, CSM) the comparison uses the account-level (cluster-robust)
variance; for role, where one account's users sit in several segments, the groups share
accounts and the independent-samples Wald comparison is used instead. Each row says which.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from analytics.compare import benjamini_hochberg, compare_clustered_each_vs_rest, compare_nps
from feedback.auth.services import Principal
from feedback.errors import InputError
from feedback.reports.services import add_scope, report_joins, report_rows

DIMENSIONS = {
    "plan": "r.plan",
    "industry": "r.industry",
    "company_size": "r.company_size",
    "csm": "c.email",
    "role": "r.role",
}
ACCOUNT_LEVEL = {"plan", "industry", "company_size", "csm"}
MIN_ACCOUNTS = 2  # the cluster-robust variance needs two accounts on each side


async def segment_scan(
    principal: Principal,
    dimension: str,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
    q: float = 0.05,
) -> dict[str, Any]:
    if dimension not in DIMENSIONS:
        raise InputError("dimension", f"must be one of {', '.join(DIMENSIONS)}")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")
    if not 0 < q < 1:
        raise InputError("q", "must be between 0 and 1, e.g. 0.05")
    where, args = [f"{DIMENSIONS[dimension]} IS NOT NULL"], []
    add_scope(where, args, principal, date_from, date_to)
    key = DIMENSIONS[dimension]
    sql = f"""
        SELECT {key} AS key, r.account AS account,
               SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
               SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
               SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
        FROM response r
        {report_joins(principal, *where)}
        WHERE {" AND ".join(where)}
        GROUP BY {key}, r.account
    """  # noqa: S608 - the key is a whitelisted expression
    rows = await report_rows(sql, *args)
    keys = [str(row["key"]) for row in rows]
    cells = np.array(
        [(int(r["promoters"]), int(r["passives"]), int(r["detractors"])) for r in rows],
        dtype=np.int64,
    ).reshape(-1, 3)
    names = sorted(set(keys))
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.array([code_of[k] for k in keys], dtype=np.int64)

    clustered = dimension in ACCOUNT_LEVEL
    totals = cells.sum(axis=0)
    # account-level dimensions: every segment against the rest from per-segment sums at once
    scan = compare_clustered_each_vs_rest(cells, codes, confidence) if clustered else []
    results = []
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
        results.append(
            {
                "key": name,
                "responses": int(mine.sum()),
                "accounts": len(mine),
                "nps": round(comparison.nps_a, 2),
                "rest_nps": round(comparison.nps_b, 2),
                "diff": round(comparison.diff, 2),
                "ci_low": round(comparison.ci_low, 2),
                "ci_high": round(comparison.ci_high, 2),
                "p_value": comparison.p_value,
                "method": comparison.method,
            }
        )
    if results:
        fdr = benjamini_hochberg([r["p_value"] for r in results], q)
        for row, adjusted, found in zip(results, fdr.adjusted, fdr.discoveries, strict=True):
            row["p_adjusted"] = adjusted
            row["significant"] = found
    results.sort(key=lambda r: r["p_value"])
    return {"dimension": dimension, "confidence": confidence, "q": q, "segments": results}
