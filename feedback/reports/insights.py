"""The Insights landing page's answers, each from the report that explains it in detail.

One look for product teams, managers and executives: NPS this quarter against the last, the
segments that moved significantly, the themes rising, the accounts to protect (high ARR, low
NPS) and how NPS relates to churn this year. Every part is scoped like its report (a CSM sees
own accounts; the answers of one environment, production unless asked) and links to that
report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from analytics.churn import RiskSummary
from analytics.compare import NPSComparison, compare_nps
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.principal import Principal
from feedback.reports.churn import churn_report
from feedback.reports.quadrant import QuadrantAccount, quadrant_report
from feedback.reports.services import NPSGroup, NPSQuery, load_nps_report
from feedback.reports.trends import TrendChange, trend_report

PROTECT_SHOWN = 5
# the dimensions scanned for segments whose NPS moved this quarter
MOVER_DIMENSIONS = {
    "plan": "Plan",
    "industry": "Industry",
    "company_size": "Company size",
    "role": "User role",
    "csm": "CSM",
}


@dataclass(frozen=True, slots=True)
class Quarter:
    label: str  # 2026-Q4
    start: datetime
    end: datetime  # exclusive


def quarter_of(moment: datetime) -> Quarter:
    first_month = 3 * ((moment.month - 1) // 3) + 1
    start = datetime(moment.year, first_month, 1, tzinfo=UTC)
    end_year, end_month = (
        (moment.year + 1, 1) if first_month == 10 else (moment.year, first_month + 3)
    )
    return Quarter(
        f"{moment.year}-Q{(first_month - 1) // 3 + 1}",
        start,
        datetime(end_year, end_month, 1, tzinfo=UTC),
    )


def previous_quarter(quarter: Quarter) -> Quarter:
    month = quarter.start.month - 3
    year = quarter.start.year
    if month < 1:
        month, year = month + 12, year - 1
    return quarter_of(datetime(year, month, 1, tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class QuarterNPS:
    """NPS this quarter (to date) and its change against the whole previous quarter."""

    quarter: str
    previous_quarter: str
    current: NPSGroup | None  # None without answers this quarter
    previous: NPSGroup | None
    change: NPSComparison | None  # None unless both quarters have answers


def _counts(group: NPSGroup | None) -> tuple[int, int, int] | None:
    if group is None or not group.responses:
        return None
    return (group.promoters, group.passives, group.detractors)


async def _overall(
    principal: Principal, quarter: Quarter, until: datetime, environment: str
) -> NPSGroup | None:
    report = await load_nps_report(
        principal,
        NPSQuery(group_by="none", date_from=quarter.start, date_to=until, environment=environment),
    )
    return next((g for g in report.groups if g.responses), None)


async def quarter_nps(
    principal: Principal, now: datetime | None = None, environment: str = PRODUCTION
) -> QuarterNPS:
    now = now or utcnow()
    this = quarter_of(now)
    last = previous_quarter(this)
    current = await _overall(principal, this, now, environment)
    previous = await _overall(principal, last, this.start, environment)
    a, b = _counts(current), _counts(previous)
    return QuarterNPS(
        quarter=this.label,
        previous_quarter=last.label,
        current=current,
        previous=previous,
        change=compare_nps(a, b) if a and b else None,
    )


async def accounts_to_protect(
    principal: Principal,
    now: datetime | None = None,
    shown: int = PROTECT_SHOWN,
    environment: str = PRODUCTION,
) -> tuple[list[QuadrantAccount], int]:
    """The largest accounts (by ARR) in the quadrant's protect corner over the last four
    quarters, and how many there are in all."""
    now = now or utcnow()
    since = datetime(now.year - 1, now.month, 1, tzinfo=UTC)
    report = await quadrant_report(principal, date_from=since, date_to=now, environment=environment)
    protect = [a for a in report.accounts if a.quadrant == "protect"]
    protect.sort(key=lambda a: -a.arr)
    return protect[:shown], len(protect)


@dataclass(frozen=True, slots=True)
class Mover:
    """A segment whose NPS this quarter differs significantly from the last."""

    dimension: str
    dimension_label: str
    segment: str
    change: TrendChange


async def segments_that_moved(
    principal: Principal, now: datetime | None = None, environment: str = PRODUCTION
) -> list[Mover]:
    """Segments of each dimension in MOVER_DIMENSIONS whose NPS this quarter (to date) differs
    from the last quarter's, significant after Benjamini-Hochberg within the dimension (as the
    trends page decides it), the largest changes first."""
    now = now or utcnow()
    this = quarter_of(now)
    since = previous_quarter(this).start
    movers: list[Mover] = []
    for dimension, label in MOVER_DIMENSIONS.items():
        report = await trend_report(
            principal, dimension, "quarter", since, now, environment=environment
        )
        for series in report.series:
            change = series.change
            if series.kind != "segment" or change is None or not change.significant:
                continue
            if change.last_period != this.label or change.diff is None:
                continue
            movers.append(Mover(dimension, label, series.label, change))
    movers.sort(key=lambda m: -abs(m.change.diff or 0.0))
    return movers


@dataclass(frozen=True, slots=True)
class ChurnLink:
    """Churn of accounts whose first answer this year made them detractors, against the rest."""

    since: datetime
    accounts: int
    risk: RiskSummary


async def churn_link(
    principal: Principal, now: datetime | None = None, environment: str = PRODUCTION
) -> ChurnLink:
    """How detractors churn against the other accounts, for the accounts that answered this
    year (the churn report's detractor vs rest, with its default window)."""
    now = now or utcnow()
    since = datetime(now.year, 1, 1, tzinfo=UTC)
    report = await churn_report(principal, date_from=since, date_to=now, environment=environment)
    return ChurnLink(since=since, accounts=report.accounts, risk=report.detractor_vs_rest)
