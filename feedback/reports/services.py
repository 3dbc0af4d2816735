"""Segment reports: the database counts, analytics/ turns counts into NPS with intervals.

Python never loads individual responses to compute a report: one query returns promoters,
passives, detractors and accounts per segment (grouped per segment and account, then per
segment), and `analytics.nps` adds the score and its interval for all groups at once.
bench/reports_scale.py measures every report on a million responses against hand-written SQL.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.nps import METHODS, NPSResult, nps_intervals
from feedback.auth.models import Role
from feedback.auth.services import Principal
from feedback.db import current_engine, is_sqlite
from feedback.errors import InputError
from feedback.responses.models import Response

# group keys are whitelisted SQL expressions over response r, account a, csm c (the CSM at
# answer time) and csm m (that CSM's manager today); `trait:NAME` adds any custom trait
GROUPS: dict[str, str | None] = {
    "none": None,
    "plan": "r.plan",
    "role": "r.role",
    "industry": "r.industry",
    "company_size": "r.company_size",
    "csm": "c.email",
    "manager": "m.email",
    "account": "a.external_id",
    "user": "u.external_id",
    "quarter": "__quarter__",
    "month": "__month__",
}
# segments that are a row of another table: grouped by the response's integer reference and
# named afterwards, once per group, instead of joining the table to every response
BY_REFERENCE = {
    "account": ("r.account", "(SELECT a2.external_id FROM account a2 WHERE a2.id = t.k)"),
    "csm": ("r.csm", "(SELECT c2.email FROM csm c2 WHERE c2.id = t.k)"),
    "manager": ("c.manager", "(SELECT m2.email FROM csm m2 WHERE m2.id = t.k)"),
    "user": ("r.end_user", "(SELECT u2.external_id FROM end_user u2 WHERE u2.id = t.k)"),
}
# filters are whitelisted conditions with one bound value; the manager and the user are found
# once by a subquery (an index look-up) instead of joining their table to every response
FILTERS = {
    "plan": "r.plan = {}",
    "role": "r.role = {}",
    "industry": "r.industry = {}",
    "company_size": "r.company_size = {}",
    "csm": "c.email = {}",
    "manager": "r.csm IN (SELECT cm.id FROM csm cm JOIN csm mg ON mg.id = cm.manager "
    "WHERE mg.email = {})",
    "account": "a.external_id = {}",
    "user": "r.end_user = (SELECT eu.id FROM end_user eu WHERE eu.external_id = {})",
}
TRAIT_PREFIX = "trait:"
TRAIT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
SegmentKey = tuple[str, tuple[Any, ...]]


def is_trait(name: str) -> bool:
    return name.startswith(TRAIT_PREFIX)


def trait_key(field: str, name: str) -> SegmentKey:
    """A custom trait's value in the response's snapshot `r.traits`, as text: the SQL
    expression and its one bound parameter. `name` is `trait:NAME`; a bad NAME is an
    InputError on `field`. NAME is never part of the SQL text."""
    trait = name.removeprefix(TRAIT_PREFIX)
    if not TRAIT_NAME.fullmatch(trait):
        raise InputError(field, "a trait name is 1 to 100 letters, digits, '_', '.' or '-'")
    if is_sqlite():
        # a quoted path: json_extract's (and ->>'s) '$.a.b' reads key b inside key a
        return "CAST(json_extract(r.traits, {}) AS TEXT)", (f'$."{trait}"',)
    return "r.traits ->> CAST({} AS text)", (trait,)


def filter_condition(name: str, value: str) -> SegmentKey:
    """One filter as an SQL condition over r (a, c) and its bound parameters."""
    if is_trait(name):
        expression, args = trait_key(name, name)
        return f"{expression} = {{}}", (*args, value)
    if name not in FILTERS:
        raise InputError(name, f"not a filter; use one of {', '.join(FILTERS)} or trait:NAME")
    return FILTERS[name], (value,)


def _period(kind: str) -> str:
    if is_sqlite():
        if kind == "month":
            return "strftime('%Y-%m', r.answered_at)"
        return (
            "strftime('%Y', r.answered_at) || '-Q' || "
            "((CAST(strftime('%m', r.answered_at) AS INTEGER) + 2) / 3)"
        )
    if kind == "month":
        return "to_char(r.answered_at AT TIME ZONE 'UTC', 'YYYY-MM')"
    return "to_char(r.answered_at AT TIME ZONE 'UTC', 'YYYY\"-Q\"Q')"


# Memory for one report query's sorts and hash tables on PostgreSQL. Grouping a million
# responses by segment and account (and period) makes hundreds of thousands of groups; with
# the server default of 4 MB they spill to disk and the query runs several times slower.
REPORT_WORK_MEM = "64MB"


async def report_rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run a report's aggregate query; on PostgreSQL with REPORT_WORK_MEM for it alone
    (`SET LOCAL` inside its own read-only transaction)."""
    engine = current_engine()
    if is_sqlite(engine):
        return await Response.raw(sql, *args)
    async with engine.transaction():
        await Response.raw(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        return await Response.raw(sql, *args)


@dataclass(frozen=True)
class NPSQuery:
    group_by: str = "none"
    date_from: datetime | None = None
    date_to: datetime | None = None
    ci_method: str = "score"
    confidence: float = 0.95
    filters: tuple[tuple[str, str], ...] = ()
    # a trend: each segment split again by "quarter" or "month"
    period: str | None = None


def add_scope(
    where: list[str],
    args: list[Any],
    principal: Principal,
    date_from: datetime | None,
    date_to: datetime | None,
) -> None:
    """The conditions every report shares: the answer period, and a CSM's own accounts.
    Expects response r and account a in the query."""
    if date_from is not None:
        where.append("r.answered_at >= {}")
        args.append(date_from)
    if date_to is not None:
        where.append("r.answered_at < {}")
        args.append(date_to)
    if principal.role is Role.csm:
        where.append("a.csm = {}")
        args.append(principal.csm_id)


def check_query(query: NPSQuery) -> None:
    if is_trait(query.group_by):
        trait_key("group_by", query.group_by)
    elif query.group_by not in GROUPS:
        raise InputError("group_by", f"must be one of {', '.join(GROUPS)} or trait:NAME")
    if query.ci_method not in METHODS:
        raise InputError("ci_method", f"must be one of {', '.join(METHODS)}")
    if not 0 < query.confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")
    if query.period is not None and query.period not in ("quarter", "month"):
        raise InputError("period", "must be quarter or month")
    if query.period is not None and query.group_by in ("quarter", "month"):
        raise InputError("period", "group_by is already a period")


def group_key(group_by: str) -> tuple[str | None, str, tuple[Any, ...]]:
    """A segment as (grouping expression per response, display expression over the grouped
    column `k`, the grouping expression's bound parameters)."""
    if is_trait(group_by):
        expression, args = trait_key("group_by", group_by)
        return expression, "k", args
    if group_by in BY_REFERENCE:
        inner, outer = BY_REFERENCE[group_by]
        return inner, outer, ()
    expression = GROUPS[group_by]
    if expression in ("__quarter__", "__month__"):
        inner, outer = _period_parts(expression.strip("_"))
        return inner, outer.replace("pk", "k"), ()
    return expression, "k", ()


def _period_parts(kind: str) -> tuple[str, str]:
    """A period as (grouping expression over response r, display expression over column
    `pk`). On PostgreSQL the scan groups by the cheap `date_trunc` and only the few result
    rows are formatted; SQLite groups by the formatted text directly."""
    if is_sqlite():
        return _period(kind), "pk"
    fmt = "YYYY-MM" if kind == "month" else 'YYYY"-Q"Q'
    return f"date_trunc('{kind}', r.answered_at AT TIME ZONE 'UTC')", f"to_char(pk, '{fmt}')"


def report_joins(principal: Principal, *expressions: str) -> str:
    """The joins a report query needs beyond response r: account a for a CSM's scope or an
    account column, csm c for a CSM column, csm m (c's manager) for a manager column. Every
    response has an account (a NOT NULL foreign key), so leaving the join out never changes
    the rows, and saves a join of every row."""
    used = " ".join(expressions)
    joins = []
    if principal.role is Role.csm or re.search(r"\ba\.", used):
        joins.append("JOIN account a ON a.id = r.account")
    manager = re.search(r"\bm\.", used)
    if manager or re.search(r"\bc\.", used):
        joins.append("LEFT JOIN csm c ON c.id = r.csm")
    if manager:
        joins.append("LEFT JOIN csm m ON m.id = c.manager")
    return "\n".join(joins)


async def nps_report(principal: Principal, query: NPSQuery) -> dict[str, Any]:
    check_query(query)
    key_inner, key_outer, key_args = group_key(query.group_by)
    period_inner, period_outer = _period_parts(query.period) if query.period else (None, None)
    grouping = [e for e in (key_inner and "k", period_inner and "pk") if e]
    where, args = ["1 = 1"], [*key_args]
    for name, value in query.filters:
        condition, values = filter_condition(name, value)
        where.append(condition)
        args.extend(values)
    add_scope(where, args, principal, query.date_from, query.date_to)
    joins = report_joins(principal, key_inner or "", *where)
    # two steps: counts per segment and account (a hash aggregate the database can run in
    # parallel), then per segment, where the number of accounts is a plain COUNT(*): much
    # cheaper than COUNT(DISTINCT account) over every response. The inner query groups by
    # its output names: a trait's expression carries a bound parameter, and a second copy
    # of it (with its own parameter) would not be the same expression to PostgreSQL.
    sql = f"""
        SELECT {key_outer if key_inner else "'all'"} AS key,
               {period_outer or "NULL"} AS period,
               SUM(n) AS responses,
               COUNT(*) AS accounts,
               SUM(pro) AS promoters,
               SUM(pas) AS passives,
               SUM(det) AS detractors
        FROM (
            SELECT {key_inner or "NULL"} AS k, {period_inner or "NULL"} AS pk,
                   r.account AS account,
                   COUNT(*) AS n,
                   SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS pro,
                   SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS pas,
                   SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS det
            FROM response r
            {joins}
            WHERE {" AND ".join(where)}
            GROUP BY {", ".join([*grouping, "r.account"])}
        ) t
        {f"GROUP BY {', '.join(grouping)} ORDER BY 1, 2" if grouping else ""}
    """  # noqa: S608 - every interpolated piece is a whitelisted expression
    rows = await report_rows(sql, *args)
    # with no grouping, an empty selection still yields its one (empty) row of counts
    kept = [row for row in rows if row["responses"] or not grouping]
    # one vectorised call for all groups: by account that is 20,000 intervals
    results = nps_intervals(
        [_counts(row) for row in kept], confidence=query.confidence, method=query.ci_method
    )
    groups = [_with_interval(row, result, query) for row, result in zip(kept, results, strict=True)]
    return {
        "group_by": query.group_by,
        "period": query.period,
        "ci_method": query.ci_method,
        "confidence": query.confidence,
        "from": query.date_from,
        "to": query.date_to,
        "groups": groups,
    }


def _counts(row: dict[str, Any]) -> tuple[int, int, int]:
    return (int(row["promoters"] or 0), int(row["passives"] or 0), int(row["detractors"] or 0))


def _with_interval(row: dict[str, Any], result: NPSResult, query: NPSQuery) -> dict[str, Any]:
    counts = _counts(row)
    return {
        "key": row["key"],
        **({"period": row["period"]} if query.period else {}),
        "responses": int(row["responses"] or 0),
        "accounts": int(row["accounts"] or 0),
        "promoters": counts[0],
        "passives": counts[1],
        "detractors": counts[2],
        "nps": None if result.nps is None else round(result.nps, 2),
        "ci_low": None if result.ci_low is None else round(result.ci_low, 2),
        "ci_high": None if result.ci_high is None else round(result.ci_high, 2),
        "precision": result.precision,
    }


CSV_COLUMNS = (
    "key",
    "responses",
    "accounts",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "ci_low",
    "ci_high",
    "precision",
)


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for group in report["groups"]:
        writer.writerow(
            ["" if group.get(c) is None else spreadsheet_safe(group[c]) for c in CSV_COLUMNS]
        )
    return out.getvalue()
