"""Which segments drive churn: each segment of accounts against the rest, with the churn
rules of the churn report (feedback/reports/churn.py) and the statistics of
analytics/churn_segments.py.

Segments are the account's attributes today (plan, industry, company size, its CSM, that
CSM's manager, or a custom account trait), since churn is an account's outcome; accounts
without a value for the dimension are counted in `without_value` and left out of the scan.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from analytics.churn import ChurnRate, churn_rates
from analytics.churn_segments import SegmentChurn, SegmentCounts, churn_by_segment
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal
from feedback.reports.churn import account_outcomes, check_options, churn_account_rows
from feedback.reports.queries import CHURN_SEGMENTS, account_trait_sql
from feedback.reports.services import TRAIT_NAME, TRAIT_PREFIX, spreadsheet_safe

DIMENSIONS = tuple(CHURN_SEGMENTS)
SORTS = {
    "diff": "largest difference from the rest first",
    "accounts": "most accounts first",
    "rate": "highest churn rate first",
    "key": "name, A to Z",
}


@dataclass(frozen=True, slots=True)
class ChurnSegmentScan:
    """Churn by segment (`churn_segments`); its JSON object has these keys in this order."""

    dimension: str
    window_days: int
    confidence: float
    q: float  # the false discovery rate a `significant` segment is found at
    sort: str
    accounts: int  # scanned: counted accounts with a value for the dimension
    excluded: int  # churned before their clock started
    without_value: int  # counted accounts without a value for the dimension
    overall: ChurnRate  # every scanned account
    significant: int  # segments whose q_value <= q
    diff_interval: str
    test: str
    segments: list[SegmentChurn]

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def segment_expression(dimension: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL expression (over account a, csm c, csm m) of a dimension, with its bound
    parameters; a bad dimension is an InputError naming `dimension`."""
    if dimension.startswith(TRAIT_PREFIX):
        trait = dimension.removeprefix(TRAIT_PREFIX)
        if not TRAIT_NAME.fullmatch(trait):
            raise InputError(
                "dimension", "a trait name is 1 to 100 letters, digits, '_', '.' or '-'"
            )
        return account_trait_sql(trait)
    if dimension not in CHURN_SEGMENTS:
        raise InputError("dimension", f"must be one of {', '.join(DIMENSIONS)} or trait:NAME")
    return CHURN_SEGMENTS[dimension], ()


def _order(segments: list[SegmentChurn], sort: str) -> list[SegmentChurn]:
    if sort == "accounts":
        return sorted(segments, key=lambda s: (-s.accounts, s.key))
    if sort == "rate":
        return sorted(segments, key=lambda s: (-(s.rate or 0.0), -s.accounts, s.key))
    if sort == "key":
        return sorted(segments, key=lambda s: s.key)
    # segments without a comparison (the only one) last
    return sorted(segments, key=lambda s: (s.diff is None, -(s.diff or 0.0), -s.accounts, s.key))


async def churn_segments(
    principal: Principal,
    dimension: str = "plan",
    window_days: int = 365,
    confidence: float = 0.95,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    q: float = 0.05,
    sort: str = "diff",
    environment: str = PRODUCTION,
) -> ChurnSegmentScan:
    """Every segment of `dimension` against the rest, over the accounts the principal may
    see (a CSM: their own), classified by their answers in `environment`."""
    expression = segment_expression(dimension)
    check_options(window_days, confidence)
    if not 0 < q < 1:
        raise InputError("q", "must be between 0 and 1, e.g. 0.05")
    if sort not in SORTS:
        raise InputError("sort", f"must be one of {', '.join(SORTS)}")
    rows = await churn_account_rows(principal, date_from, date_to, expression, environment)
    outcomes, excluded = account_outcomes(rows, window_days, utcnow())

    tally: dict[str, list[int]] = defaultdict(lambda: [0] * 8)
    without_value = 0
    for o in outcomes:
        if o.segment is None or o.segment == "":
            without_value += 1
            continue
        t = tally[o.segment]
        detractor = o.category == "detractor"
        t[0] += 1
        t[1] += o.churned
        t[2] += o.category != "non_respondent"
        t[3] += detractor
        t[4] += detractor and o.churned
        t[5] += o.promoters
        t[6] += o.passives
        t[7] += o.detractors
    counts = [SegmentCounts(key, *t) for key, t in sorted(tally.items())]
    results = churn_by_segment(counts, confidence, q)
    total_n = sum(c.accounts for c in counts)
    total_k = sum(c.churned for c in counts)
    (overall,) = churn_rates({"all": (total_n, total_k)}, confidence)
    return ChurnSegmentScan(
        dimension=dimension,
        window_days=window_days,
        confidence=confidence,
        q=q,
        sort=sort,
        accounts=total_n,
        excluded=excluded,
        without_value=without_value,
        overall=overall,
        significant=sum(s.significant for s in results),
        diff_interval="Newcombe hybrid score (method 10)",
        test="Fisher's exact, two-sided; Benjamini-Hochberg over the segments compared",
        segments=_order(results, sort),
    )


CSV_COLUMNS = tuple(f.name for f in fields(SegmentChurn))


def churn_segments_csv(scan: ChurnSegmentScan) -> str:
    """The scan's segments as CSV, one row each in the scan's order; empty cells for null."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for segment in scan.segments:
        values = asdict(segment)
        writer.writerow(
            ["" if values[c] is None else spreadsheet_safe(values[c]) for c in CSV_COLUMNS]
        )
    return out.getvalue()
