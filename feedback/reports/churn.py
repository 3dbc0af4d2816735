"""Churn against NPS at account level: the database aggregates per account, analytics/ tests.

An account's category comes from its mean score over the responses in the period (9-10
promoter, 7-8 passive, 0-6 detractor); accounts without responses are non-respondents. The
clock starts at the account's first answer (non-respondents: when the account was created)
and an account counts as churned when a termination notice or non-renewal is noticed within
`window_days` after that. Accounts whose churn was noticed before their clock started are
left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from analytics.churn import (
    ChurnRate,
    Correlation,
    RiskComparison,
    SurvivalCurve,
    churn_rates,
    compare_risk,
    kaplan_meier,
    logrank,
    point_biserial,
)
from feedback.db import as_utc_datetime
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.nps import category
from feedback.kernel.principal import Principal, Role
from feedback.reports.queries import churn_accounts_sql
from feedback.reports.services import report_rows

CATEGORIES = ("detractor", "passive", "promoter", "non_respondent")


@dataclass(frozen=True, slots=True)
class ChurnReport:
    """Churn against NPS (`churn_report`); its JSON object has these keys in this order."""

    window_days: int
    confidence: float
    accounts: int  # those counted
    excluded: int  # churned before their clock started
    rates: list[ChurnRate]  # per category, in CATEGORIES' order
    detractor_vs_promoter: RiskComparison
    nps_churn_correlation: Correlation
    survival_days: list[SurvivalCurve]  # the categories with accounts
    logrank_p: float | None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict; the analytics records in it encode as JSON objects."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def category_of(mean_score: float | None) -> str:
    """An account's category from its mean score; non_respondent without answers."""
    if mean_score is None:
        return "non_respondent"
    return category(mean_score)


async def churn_report(
    principal: Principal,
    window_days: int = 365,
    confidence: float = 0.95,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> ChurnReport:
    if not 1 <= window_days <= 3650:
        raise InputError("window_days", "must be between 1 and 3650")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")
    by_csm = principal.role is Role.csm
    sql = churn_accounts_sql(
        date_from=date_from is not None, date_to=date_to is not None, csm=by_csm
    )
    args = [a for a in (date_from, date_to) if a is not None]
    rows = await report_rows(sql, *args, *([principal.csm_id] if by_csm else []))

    now = utcnow()
    window = timedelta(days=window_days)
    counts = {c: [0, 0] for c in CATEGORIES}  # accounts, churned
    survival: dict[str, tuple[list[float], list[bool]]] = {c: ([], []) for c in CATEGORIES}
    account_nps: list[float] = []
    account_churned: list[bool] = []
    excluded = 0
    for row in rows:
        mean = None if not row["responses"] else float(row["mean_score"])
        group = category_of(mean)
        start = as_utc_datetime(row["first_answer"]) or as_utc_datetime(row["created_at"])
        churned_at = as_utc_datetime(row["churned_at"])
        if start is None or (churned_at is not None and churned_at < start):
            excluded += 1
            continue
        churned = churned_at is not None and churned_at <= start + window
        counts[group][0] += 1
        counts[group][1] += churned
        ended = churned_at if churned_at is not None else now
        survival[group][0].append(max((ended - start).total_seconds() / 86400, 0.0))
        survival[group][1].append(churned_at is not None)
        if mean is not None:
            n = int(row["responses"])
            account_nps.append(100 * (int(row["promoters"]) - int(row["detractors"])) / n)
            account_churned.append(churned)

    rates = churn_rates({c: (counts[c][0], counts[c][1]) for c in CATEGORIES}, confidence)
    detractors, promoters = counts["detractor"], counts["promoter"]
    risk = compare_risk(
        ("detractor", detractors[0], detractors[1]),
        ("promoter", promoters[0], promoters[1]),
        confidence,
    )
    curves = [kaplan_meier(c, *survival[c]) for c in CATEGORIES if survival[c][0]]
    return ChurnReport(
        window_days=window_days,
        confidence=confidence,
        accounts=sum(v[0] for v in counts.values()),
        excluded=excluded,
        rates=rates,
        detractor_vs_promoter=risk,
        nps_churn_correlation=point_biserial(account_nps, account_churned, confidence),
        survival_days=curves,
        logrank_p=logrank({c: survival[c] for c in CATEGORIES if survival[c][0]}),
    )
