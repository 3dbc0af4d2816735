"""The ARR x NPS quadrant: each account placed by its revenue and its NPS, to prioritise.

Quadrants are named by the action they call for:
- `protect`: high ARR, low NPS - revenue at risk, act first;
- `advocate`: high ARR, high NPS - ask for references and case studies, expand;
- `grow`: low ARR, high NPS - happy and small, upsell;
- `fix`: low ARR, low NPS - fix the experience at scale (low-touch).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from analytics.nps import nps_intervals
from feedback.auth.services import Principal
from feedback.reports.services import add_scope, report_joins, report_rows

# counts per account first (one pass over the responses, grouped by an integer), then the
# account's name, ARR and CSM for those few thousand rows
_SQL = """
SELECT a.external_id AS account_id, a.name, a.arr_cents, c.email AS csm_email,
       t.promoters, t.passives, t.detractors
FROM (
    SELECT r.account,
           SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
           SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
           SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
    FROM response r
    {joins}
    WHERE {condition}
    GROUP BY r.account
) t
JOIN account a ON a.id = t.account
LEFT JOIN csm c ON c.id = a.csm
WHERE a.arr_cents IS NOT NULL
"""


def quadrant_of(high_arr: bool, high_nps: bool) -> str:
    if high_arr:
        return "advocate" if high_nps else "protect"
    return "grow" if high_nps else "fix"


async def quadrant_report(
    principal: Principal,
    nps_threshold: float = 0.0,
    arr_threshold: float | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """`arr_threshold` in currency units; by default the median ARR of the accounts shown.
    An account's NPS is on its responses in the period; the interval says how sure it is."""
    where, args = ["1 = 1"], []
    add_scope(where, args, principal, date_from, date_to)
    sql = _SQL.format(condition=" AND ".join(where), joins=report_joins(principal, *where))
    rows = await report_rows(sql, *args)
    arrs = [int(r["arr_cents"]) / 100 for r in rows]
    threshold = (
        arr_threshold if arr_threshold is not None else (statistics.median(arrs) if arrs else 0.0)
    )
    all_counts = [
        (int(row["promoters"]), int(row["passives"]), int(row["detractors"])) for row in rows
    ]
    # one vectorised call for every account's interval
    results = nps_intervals(all_counts, confidence=confidence)
    accounts = []
    for row, counts, result in zip(rows, all_counts, results, strict=True):
        n = sum(counts)
        nps = 100 * (counts[0] - counts[2]) / n
        arr = int(row["arr_cents"]) / 100
        accounts.append(
            {
                "account_id": row["account_id"],
                "name": row["name"],
                "csm_email": row["csm_email"],
                "arr": arr,
                "responses": n,
                "nps": round(nps, 2),
                "ci_low": None if result.ci_low is None else round(result.ci_low, 2),
                "ci_high": None if result.ci_high is None else round(result.ci_high, 2),
                "precision": result.precision,
                "quadrant": quadrant_of(arr >= threshold, nps >= nps_threshold),
            }
        )
    # the accounts to look at first: most revenue at risk
    accounts.sort(key=lambda a: (a["quadrant"] != "protect", -a["arr"]))
    summary: dict[str, dict[str, float]] = {}
    for name in ("protect", "advocate", "grow", "fix"):
        members = [a for a in accounts if a["quadrant"] == name]
        summary[name] = {"accounts": len(members), "arr": sum(a["arr"] for a in members)}
    return {
        "nps_threshold": nps_threshold,
        "arr_threshold": threshold,
        "quadrants": summary,
        "accounts": accounts,
    }
