"""Segment reports: the database counts, analytics/ turns counts into NPS with intervals.

Python never loads individual responses to compute a report: one query returns promoters,
passives, detractors and accounts per segment, sorts the segments and cuts the page asked for
(`ORDER BY ... LIMIT ... OFFSET`, with the number of segments from a window count), and
`analytics.nps` adds the score and its interval for the page's groups at once.
bench/reports_scale.py measures every report on a million responses against hand-written SQL.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.querystring import QueryString

from analytics.nps import COUNTS_ONLY_BELOW, METHODS, NPSResult, nps_intervals
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
# named afterwards (the table and its name column), once per group of the page, instead of
# joining the table to every response
BY_REFERENCE = {
    "account": ("r.account", "account", "external_id"),
    "csm": ("r.csm", "csm", "email"),
    "manager": ("c.manager", "csm", "email"),
    "user": ("r.end_user", "end_user", "external_id"),
}
# the order of the groups: by key, by number of answers or by NPS; '-' for descending.
# Groups with too few answers for a score sort after the rest either way.
SORTS = ("key", "-key", "responses", "-responses", "nps", "-nps")
# groupings with a group per account or per user answer a page of the largest groups unless
# asked otherwise; the others (a plan, a quarter, a CSM, ...) answer every group
PAGED_BY_DEFAULT = ("account", "user")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000
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


async def report_columns(sql: str, *args: Any, columns: Sequence[str]) -> dict[str, list[Any]]:
    """A report query's rows as columns: each of `columns` as one list, in the rows' order.

    On PostgreSQL the database packs each column into one array (`array_agg` over the
    query's rows; the aggregates of one query are fed the same rows in the same order), so
    a report of every account makes no Python object per row: 20,000 asyncpg records, and
    their dicts, on every request made the garbage collector's full passes frequent, and
    each took tens of milliseconds. SQLite, the small embedded case, reads rows."""
    if is_sqlite():
        rows = await report_rows(sql, *args)
        return {column: [row[column] for row in rows] for column in columns}
    packed = ", ".join(f"array_agg(t.{column}) AS {column}" for column in columns)
    (row,) = await report_rows(f"SELECT {packed} FROM ({sql}) t", *args)  # noqa: S608
    # no rows: array_agg is NULL
    return {column: row[column] or [] for column in columns}


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
    # the page of groups: None for every group (in a trend, every period of each group)
    limit: int | None = None
    offset: int = 0
    # one of SORTS; None for the grouping's default (default_sort)
    sort: str | None = None


def default_sort(group_by: str) -> str:
    """The largest groups first where there is one per account or user, else by key."""
    return "-responses" if group_by in PAGED_BY_DEFAULT else "key"


def default_limit(group_by: str) -> int:
    """The page size when none is asked for: a page by account or user, else the maximum
    (which every plan, role, CSM or period grouping fits in)."""
    return DEFAULT_PAGE if group_by in PAGED_BY_DEFAULT else MAX_PAGE


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
    if query.sort is not None and query.sort not in SORTS:
        raise InputError("sort", f"must be one of {', '.join(SORTS)}")
    if query.limit is not None and not 1 <= query.limit <= MAX_PAGE:
        raise InputError("limit", f"must be between 1 and {MAX_PAGE}")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise InputError("offset", f"must be between 0 and {MAX_OFFSET}")


@dataclass(frozen=True)
class Grouping:
    """How one report groups its answers. `inner`: the grouping expression per response r
    (None: one group of all answers), with its bound parameters `args`; `name`: the key as
    shown, over the grouped column `t.k` (and table `nm` when `name_join` names a
    reference); `sort_key`: what `sort=key` orders by."""

    inner: str | None
    args: tuple[Any, ...] = ()
    name: str = "t.k"
    name_join: str = ""
    sort_key: str = "t.k"


def grouping_for(group_by: str) -> Grouping:
    if is_trait(group_by):
        expression, args = trait_key("group_by", group_by)
        return Grouping(expression, args)
    if group_by == "none":
        return Grouping(None, name="'all'")
    if group_by in BY_REFERENCE:
        inner, table, column = BY_REFERENCE[group_by]
        join = f"LEFT JOIN {table} nm ON nm.id = t.k"
        return Grouping(inner, name=f"nm.{column}", name_join=join, sort_key=f"nm.{column}")
    expression = GROUPS[group_by]
    if expression in ("__quarter__", "__month__"):
        inner, outer = _period_parts(expression.strip("_"))
        # ordered by the period itself (a date on PostgreSQL): chronological
        return Grouping(inner, name=outer.replace("pk", "t.k"))
    return Grouping(expression)


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


# scores are 0 to 10 (checked at intake and import): passives are the answers that are
# neither, which saves the scan a third CASE per response
PROMOTER = "CASE WHEN r.score >= 9 THEN 1 ELSE 0 END"
DETRACTOR = "CASE WHEN r.score <= 6 THEN 1 ELSE 0 END"


def counts_sql(
    principal: Principal, query: NPSQuery, grouping: Grouping
) -> tuple[str, list[Any], str | None]:
    """The query of counts per group (columns k, pk, responses, accounts, promoters,
    passives, detractors), its bound parameters, and the period's display expression over
    `t.pk` (None without a period).

    The number of accounts per group: by account it is one; a user belongs to one account
    at a time, so by user it is one unless the user moved (MIN and MAX of the account differ:
    `accounts` is then NULL and `exact_accounts` counts it for the page); for any other
    grouping the counts are taken per group and account first, then per group, where the
    number of accounts is a plain COUNT(*): much cheaper than COUNT(DISTINCT account) over
    every response. Queries group by their output names: a trait's expression carries a
    bound parameter, and a second copy of it (with its own parameter) would not be the same
    expression to PostgreSQL."""
    period_inner, period_outer = _period_parts(query.period) if query.period else (None, None)
    where, args = _where(principal, query, grouping)
    joins = report_joins(principal, grouping.inner or "", *where)
    grouped = [e for e in (grouping.inner and "k", period_inner and "pk") if e]
    keys = f"{grouping.inner or 'NULL'} AS k, {period_inner or 'NULL'} AS pk"
    source = f"FROM response r {joins} WHERE {' AND '.join(where)}"
    one_step = {"account": "1", "user": "CASE WHEN MIN(r.account) = MAX(r.account) THEN 1 END"}
    if query.group_by in one_step:
        sql = f"""
            SELECT {keys}, COUNT(*) AS responses, {one_step[query.group_by]} AS accounts,
                   SUM({PROMOTER}) AS promoters,
                   COUNT(*) - SUM({PROMOTER}) - SUM({DETRACTOR}) AS passives,
                   SUM({DETRACTOR}) AS detractors
            {source}
            GROUP BY {", ".join(grouped)}
        """
    else:
        outer_keys = (
            f"{'k' if grouping.inner else 'NULL AS k'}, {'pk' if period_inner else 'NULL AS pk'}"
        )
        sql = f"""
            SELECT {outer_keys}, SUM(n) AS responses, COUNT(*) AS accounts, SUM(pro) AS promoters,
                   SUM(n) - SUM(pro) - SUM(det) AS passives, SUM(det) AS detractors
            FROM (
                SELECT {keys}, r.account AS account, COUNT(*) AS n, SUM({PROMOTER}) AS pro,
                       SUM({DETRACTOR}) AS det
                {source}
                GROUP BY {", ".join([*grouped, "r.account"])}
            ) t
            {f"GROUP BY {', '.join(grouped)}" if grouped else ""}
        """  # noqa: S608 - every interpolated piece is a whitelisted expression
    return sql, args, period_outer and period_outer.replace("pk", "t.pk")


def _order(sort: str, sort_key: str, responses: str, promoters: str, detractors: str) -> str:
    """ORDER BY terms for one of SORTS; ties go to the larger group, then to the key (for a
    reference, its integer id: the order the rows were made)."""
    descending = sort.startswith("-")
    direction = "DESC" if descending else "ASC"
    score = (
        f"CASE WHEN {responses} >= {COUNTS_ONLY_BELOW} "
        f"THEN ({promoters} - {detractors}) * 1.0 / {responses} END"
    )
    first = {"key": sort_key, "responses": responses, "nps": score}[sort.lstrip("-")]
    return f"{first} {direction} NULLS LAST, {responses} DESC, t.k ASC NULLS LAST"


def page_sql(counts: str, grouping: Grouping, period: str | None, sort: str, paged: bool) -> str:
    """The groups' counts sorted by `sort`, with the number of groups as `total_groups`;
    with `paged` one page of them (two more parameters, from `_page_args`). Without a
    period the database sorts the groups and keeps the page's (a top-N sort), and only
    those are named; in a trend the page is of groups, each with all its periods, ranked by
    their totals over every period."""
    by_key = sort.lstrip("-") == "key"
    if period is None:
        inner_join = grouping.name_join if by_key else ""
        outer_join = "" if by_key else grouping.name_join
        name = "t.name" if by_key else grouping.name
        order = _order(sort, grouping.sort_key, "t.responses", "t.promoters", "t.detractors")
        outer_order = _order(sort, "t.name", "t.responses", "t.promoters", "t.detractors")
        sql = f"""
            WITH t AS ({counts})
            SELECT {name} AS key, NULL AS period, t.k AS ref, t.responses, t.accounts,
                   t.promoters, t.passives, t.detractors, t.total_groups
            FROM (
                SELECT t.*, {grouping.name if by_key else "NULL"} AS name,
                       COUNT(*) OVER () AS total_groups
                FROM t {inner_join}
                ORDER BY {order}
                {"LIMIT {} OFFSET {}" if paged else ""}
            ) t {outer_join}
            ORDER BY {outer_order}
        """  # noqa: S608 - every interpolated piece is a whitelisted expression
        return sql
    order = _order(sort, "t.name", "t.key_responses", "t.key_promoters", "t.key_detractors")
    sql = f"""
        WITH t AS ({counts}),
        s AS (
            SELECT t.*, {grouping.name} AS name,
                   SUM(t.responses) OVER (PARTITION BY t.k) AS key_responses,
                   SUM(t.promoters) OVER (PARTITION BY t.k) AS key_promoters,
                   SUM(t.detractors) OVER (PARTITION BY t.k) AS key_detractors
            FROM t {grouping.name_join}
        ),
        ranked AS (SELECT t.*, DENSE_RANK() OVER (ORDER BY {order}) AS key_rank FROM s t)
        SELECT t.name AS key, {period} AS period, t.k AS ref, t.responses, t.accounts,
               t.promoters, t.passives, t.detractors,
               (SELECT MAX(key_rank) FROM ranked) AS total_groups
        FROM ranked t
        {"WHERE t.key_rank > {} AND t.key_rank <= {}" if paged else ""}
        ORDER BY t.key_rank, t.pk
    """  # noqa: S608 - every interpolated piece is a whitelisted expression
    return sql


def _page_args(query: NPSQuery, limit: int) -> list[Any]:
    if query.period is None:
        return [limit, query.offset]
    return [query.offset, query.offset + limit]


async def exact_accounts(
    principal: Principal, query: NPSQuery, grouping: Grouping, rows: list[dict[str, Any]]
) -> None:
    """Fill in `accounts` where the one-step count by user left it open (a user who moved
    between accounts, or the answers of deleted users): COUNT(DISTINCT account) for those
    groups of the page only."""
    open_rows = [row for row in rows if row["accounts"] is None]
    if not open_rows:
        return
    refs = sorted({row["ref"] for row in open_rows if row["ref"] is not None})
    chosen = [f"{grouping.inner} IN ({', '.join('{}' for _ in refs)})"] if refs else []
    if any(row["ref"] is None for row in open_rows):
        chosen.append(f"{grouping.inner} IS NULL")
    where, args = _where(principal, query, grouping)
    period_inner, period_outer = _period_parts(query.period) if query.period else ("NULL", "pk")
    sql = f"""
        SELECT t.k, {period_outer.replace("pk", "t.pk")} AS period, t.n
        FROM (
            SELECT {grouping.inner} AS k, {period_inner} AS pk, COUNT(DISTINCT r.account) AS n
            FROM response r {report_joins(principal, grouping.inner or "", *where)}
            WHERE {" AND ".join(where)} AND ({" OR ".join(chosen)})
            GROUP BY k, pk
        ) t
    """  # noqa: S608 - every interpolated piece is a whitelisted expression
    found = {
        (row["k"], row["period"]): int(row["n"]) for row in await report_rows(sql, *args, *refs)
    }
    for row in open_rows:
        row["accounts"] = found.get((row["ref"], row["period"]), 0)


async def nps_report(principal: Principal, query: NPSQuery) -> dict[str, Any]:
    """One page of groups (`query.limit`, from `query.offset`; every group with no limit),
    sorted by `query.sort`, each with its counts, NPS and interval, and `total_groups`."""
    check_query(query)
    rows, total = await _report_rows(principal, query, query.limit)
    return {
        "group_by": query.group_by,
        "period": query.period,
        "ci_method": query.ci_method,
        "confidence": query.confidence,
        "from": query.date_from,
        "to": query.date_to,
        "sort": query.sort or default_sort(query.group_by),
        "limit": query.limit,
        "offset": query.offset,
        "total_groups": total,
        "groups": with_intervals(rows, query),
    }


async def _report_rows(
    principal: Principal, query: NPSQuery, limit: int | None
) -> tuple[list[dict[str, Any]], int]:
    grouping = grouping_for(query.group_by)
    counts, args, period = counts_sql(principal, query, grouping)
    if grouping.inner is None and period is None:
        # one group of every answer: an empty selection still yields its one row of counts
        rows = await report_rows(
            f"SELECT 'all' AS key, NULL AS period, NULL AS ref, t.* FROM ({counts}) t",  # noqa: S608
            *args,
        )
        return rows, 1
    sort = query.sort or default_sort(query.group_by)
    sql = page_sql(counts, grouping, period, sort, paged=limit is not None)
    page = _page_args(query, limit) if limit is not None else []
    rows = await report_rows(sql, *args, *page)
    if rows:
        total = int(rows[0]["total_groups"])
    elif query.offset:  # past the last page: the window count has no row to ride on
        keys = f"SELECT COUNT(*) AS n FROM (SELECT t.k FROM ({counts}) t GROUP BY t.k) g"  # noqa: S608
        total = int((await report_rows(keys, *args))[0]["n"])
    else:
        total = 0
    await exact_accounts(principal, query, grouping, rows)
    return rows, total


def with_intervals(rows: list[dict[str, Any]], query: NPSQuery) -> list[dict[str, Any]]:
    """The rows as report groups: one vectorised call for all their intervals."""
    results = nps_intervals(
        [_counts(row) for row in rows], confidence=query.confidence, method=query.ci_method
    )
    return [_with_interval(row, result, query) for row, result in zip(rows, results, strict=True)]


# CSV exports are computed in chunks of this many groups, and streamed
CSV_CHUNK = 5000


async def stream_rows(
    sql: str, *args: Any, chunk: int = CSV_CHUNK
) -> AsyncIterator[list[dict[str, Any]]]:
    """A report query's rows, `chunk` at a time. On PostgreSQL from a cursor (REPORT_WORK_MEM
    in its own read-only transaction), so no more than a chunk is in memory at once; SQLite
    (the small, embedded case) reads them at once."""
    engine = current_engine()
    if is_sqlite(engine):
        rows = await Response.raw(sql, *args)
        for start in range(0, len(rows), chunk):
            yield rows[start : start + chunk]
        return
    template, values = QueryString(sql, *args).compile_string(engine_type="postgres")
    async with engine.transaction() as transaction:
        connection = transaction.connection
        await connection.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        cursor = await connection.cursor(template, *values)
        while records := await cursor.fetch(chunk):
            yield [dict(record) for record in records]


async def nps_report_csv(principal: Principal, query: NPSQuery) -> AsyncIterator[str]:
    """The report as CSV text, chunk by chunk: with no `query.limit` every group (a full
    export, sorted like the report), else the page asked for. Every parameter is checked
    before the header row comes out, so a bad one is still an error answer."""
    check_query(query)
    grouping = grouping_for(query.group_by)
    counts, args, period = counts_sql(principal, query, grouping)
    columns = csv_columns(query)
    yield csv_lines([columns])
    if grouping.inner is None and period is None:
        rows, _ = await _report_rows(principal, query, None)
        yield csv_lines(_csv_row(g, columns) for g in with_intervals(rows, query))
        return
    sort = query.sort or default_sort(query.group_by)
    sql = page_sql(counts, grouping, period, sort, paged=query.limit is not None)
    page = _page_args(query, query.limit) if query.limit is not None else []
    async for rows in stream_rows(sql, *args, *page):
        await exact_accounts(principal, query, grouping, rows)
        yield csv_lines(_csv_row(g, columns) for g in with_intervals(rows, query))


def _where(
    principal: Principal, query: NPSQuery, grouping: Grouping
) -> tuple[list[str], list[Any]]:
    """A report's conditions and the bound parameters of the whole statement up to its end:
    the grouping's own (it comes first, in SELECT), then the filters' and the scope's."""
    where, args = ["1 = 1"], [*grouping.args]
    for name, value in query.filters:
        condition, values = filter_condition(name, value)
        where.append(condition)
        args.extend(values)
    add_scope(where, args, principal, query.date_from, query.date_to)
    return where, args


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


def csv_columns(query: NPSQuery) -> tuple[str, ...]:
    return ("key", "period", *CSV_COLUMNS[1:]) if query.period else CSV_COLUMNS


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_row(group: dict[str, Any], columns: tuple[str, ...]) -> list[Any]:
    return ["" if group.get(c) is None else spreadsheet_safe(group[c]) for c in columns]


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()
