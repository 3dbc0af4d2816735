"""NPS trends by segment on one chart: the largest segments of a dimension per quarter or
month, the rest grouped as "Other", everyone as "All", and each line's last period against
the one before.

The counts come from the NPS report (`load_nps_report` with a `period`: one query of counts
per segment and period, scoped like every report: a CSM sees their own accounts);
`analytics.trends` groups them and compares the periods, `analytics.nps` adds the intervals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal, cast

import msgspec

from analytics.nps import COUNTS_ONLY_BELOW, METHODS, Precision, nps_intervals
from analytics.trends import (
    Counts,
    Kind,
    SeriesCounts,
    period_change,
    periods_between,
    significant_changes,
    split_top,
)
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal
from feedback.reports.services import (
    NPSQuery,
    csv_lines,
    is_trait,
    load_nps_report,
    spreadsheet_safe,
    trait_key,
)

DIMENSIONS = ("plan", "role", "industry", "company_size", "csm", "manager")
PERIODS = ("quarter", "month")
DEFAULT_TOP = 5
MAX_TOP = 10  # more lines than this on one chart cannot be told apart


class TrendPoint(msgspec.Struct, kw_only=True, gc=False):
    """One line's answers in one period, with NPS and interval (None under 5 answers)."""

    period: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    precision: Precision


class TrendChange(msgspec.Struct, kw_only=True):
    """The last period against the one before (`diff` = last - previous, Wald interval,
    two-sided p, Benjamini-Hochberg adjusted over the segments and "Other"; "All" is not
    adjusted). `note` says why there is no comparison, e.g. too few answers."""

    last_period: str
    previous_period: str
    last_nps: float | None
    previous_nps: float | None
    last_responses: int
    previous_responses: int
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    note: str


class TrendSeries(msgspec.Struct, kw_only=True):
    """A line: "all" (every answer), a "segment" (`key`; null for answers without a value)
    or "other" (the segments after the top N, named in `members`)."""

    kind: Kind
    key: str | None
    label: str
    responses: int
    members: list[str | None]
    points: list[TrendPoint]
    change: TrendChange | None


class TrendReport(msgspec.Struct, kw_only=True):
    """`GET /api/v1/reports/trends`: every line with a point per period."""

    dimension: str
    period: str
    date_from: datetime | None = msgspec.field(name="from")
    date_to: datetime | None = msgspec.field(name="to")
    top: int
    confidence: float
    ci_method: str
    min_answers: int
    periods: list[str]
    total_segments: int
    series: list[TrendSeries]


def check_trend_query(dimension: str, period: str, top: int, confidence: float) -> None:
    if is_trait(dimension):
        trait_key("dimension", dimension)
    elif dimension not in DIMENSIONS:
        raise InputError("dimension", f"must be one of {', '.join(DIMENSIONS)} or trait:NAME")
    if period not in PERIODS:
        raise InputError("period", "must be quarter or month")
    if not 1 <= top <= MAX_TOP:
        raise InputError("top", f"must be between 1 and {MAX_TOP}")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")


def label_of(one: SeriesCounts) -> str:
    if one.kind == "all":
        return "All"
    if one.kind == "other":
        return f"Other ({len(one.members)})"
    return "(no value)" if one.key is None else one.key


async def trend_report(
    principal: Principal,
    dimension: str,
    period: str = "quarter",
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    top: int = DEFAULT_TOP,
    confidence: float = 0.95,
    ci_method: str = "score",
    environment: str = PRODUCTION,
) -> TrendReport:
    """The trend of the `top` segments of `dimension` by answers, "Other" and "All", over
    the answers of `environment` (production by default)."""
    check_trend_query(dimension, period, top, confidence)
    if ci_method not in METHODS:
        raise InputError("ci_method", f"must be one of {', '.join(METHODS)}")
    report = await load_nps_report(
        principal,
        NPSQuery(
            group_by=dimension,
            period=period,
            date_from=date_from,
            date_to=date_to,
            confidence=confidence,
            ci_method=ci_method,
            environment=environment,
        ),
    )
    rows = [
        (g.key, g.period, (g.promoters, g.passives, g.detractors))
        for g in report.groups
        if isinstance(g.period, str) and g.responses
    ]
    kind = cast(Literal["quarter", "month"], period)
    found = sorted({p for _, p, _ in rows})
    periods = periods_between(found[0], found[-1], kind) if found else []
    lines = split_top(rows, top) if rows else []
    changes = [_change(one, periods, confidence) for one in lines]
    adjusted = significant_changes(
        [
            c.p_value if c and one.kind != "all" else None
            for one, c in zip(lines, changes, strict=True)
        ],
        1 - confidence,
    )
    series = []
    for one, change, p_adjusted in zip(lines, changes, adjusted, strict=True):
        if change is not None and one.kind != "all":
            change.p_adjusted = p_adjusted
            change.significant = p_adjusted is not None and p_adjusted <= 1 - confidence
        series.append(
            TrendSeries(
                kind=one.kind,
                key=one.key,
                label=label_of(one),
                responses=one.responses,
                members=list(one.members),
                points=_points(one, periods, confidence, ci_method),
                change=change,
            )
        )
    return TrendReport(
        dimension=dimension,
        period=period,
        date_from=date_from,
        date_to=date_to,
        top=top,
        confidence=confidence,
        ci_method=ci_method,
        min_answers=COUNTS_ONLY_BELOW,
        periods=periods,
        total_segments=len({key for key, _, _ in rows}),
        series=series,
    )


def _points(
    one: SeriesCounts, periods: list[str], confidence: float, method: str
) -> list[TrendPoint]:
    counts = [one.by_period.get(p, (0, 0, 0)) for p in periods]
    results = nps_intervals(counts, confidence=confidence, method=method) if periods else []
    return [
        TrendPoint(
            period=p,
            responses=r.n,
            promoters=r.promoters,
            passives=r.passives,
            detractors=r.detractors,
            nps=_round(r.nps),
            ci_low=_round(r.ci_low),
            ci_high=_round(r.ci_high),
            precision=r.precision,
        )
        for p, r in zip(periods, results, strict=True)
    ]


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _change(one: SeriesCounts, periods: list[str], confidence: float) -> TrendChange | None:
    if len(periods) < 2:
        return None
    previous_period, last_period = periods[-2], periods[-1]
    previous: Counts = one.by_period.get(previous_period, (0, 0, 0))
    last: Counts = one.by_period.get(last_period, (0, 0, 0))
    found = period_change(previous, last, confidence)
    c = found.comparison
    names = {"last": last_period, "previous": previous_period}
    note = "; ".join(
        f"too few answers in {names[which]} ({sum(last if which == 'last' else previous)}, "
        f"{COUNTS_ONLY_BELOW} needed)"
        for which in found.too_few
    )
    return TrendChange(
        last_period=last_period,
        previous_period=previous_period,
        last_nps=None if c is None else round(c.nps_a, 2),
        previous_nps=None if c is None else round(c.nps_b, 2),
        last_responses=sum(last),
        previous_responses=sum(previous),
        diff=None if c is None else round(c.diff, 2),
        ci_low=None if c is None else round(c.ci_low, 2),
        ci_high=None if c is None else round(c.ci_high, 2),
        p_value=None if c is None else c.p_value,
        p_adjusted=None if c is None else c.p_value,
        significant=c is not None and c.p_value <= 1 - confidence,
        note=note,
    )


CSV_COLUMNS = (
    "kind",
    "key",
    "period",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "ci_low",
    "ci_high",
    "precision",
    "change",
    "change_ci_low",
    "change_ci_high",
    "change_p",
    "change_p_adjusted",
    "change_significant",
)


async def trend_csv(report: TrendReport) -> AsyncIterator[str]:
    """One row per line and period; the change against the period before on each line's
    last period's row."""
    yield csv_lines([CSV_COLUMNS])
    rows = []
    for one in report.series:
        for point in one.points:
            c = one.change if point.period == (one.change and one.change.last_period) else None
            values = [
                one.kind,
                one.key if one.kind == "segment" else one.label,
                point.period,
                point.responses,
                point.promoters,
                point.passives,
                point.detractors,
                point.nps,
                point.ci_low,
                point.ci_high,
                point.precision,
                *(
                    (
                        c.diff,
                        c.ci_low,
                        c.ci_high,
                        c.p_value,
                        c.p_adjusted,
                        str(c.significant).lower(),
                    )
                    if c is not None and c.diff is not None
                    else (None,) * 6
                ),
            ]
            rows.append(["" if v is None else spreadsheet_safe(v) for v in values])
    yield csv_lines(rows)
