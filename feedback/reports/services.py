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
import unicodedata
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from analytics.nps import METHODS, NPSResult, Precision, nps_intervals
from feedback.db import Row, as_utc_datetime, fetch, fetch_with_work_mem, is_sqlite, stream
from feedback.kernel.environments import ENVIRONMENTS, PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports import queries
from feedback.reports.queries import (
    FILTERS,
    GROUPS,
    Grouping,
    SegmentKey,
    add_scope,
    equals_sql,
    page_sql,
)
from feedback.reports.queries import report_joins as report_joins

# the order of the groups: by key, by number of answers or by NPS; '-' for descending.
# Groups with too few answers for a score sort after the rest either way.
SORTS = ("key", "-key", "responses", "-responses", "nps", "-nps")
# groupings with a group per account or per user answer a page of the largest groups unless
# asked otherwise; the others (a plan, a quarter, a CSM, ...) answer every group
PAGED_BY_DEFAULT = ("account", "user")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000
TRAIT_PREFIX = "trait:"
TRAIT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def is_trait(name: str) -> bool:
    return name.startswith(TRAIT_PREFIX)


def trait_key(field: str, name: str) -> SegmentKey:
    """A custom trait's value in the response's snapshot `r.traits`, as text: the SQL
    expression and its one bound parameter. `name` is `trait:NAME`; a bad NAME is an
    InputError on `field`. NAME is never part of the SQL text."""
    trait = name.removeprefix(TRAIT_PREFIX)
    if not TRAIT_NAME.fullmatch(trait):
        raise InputError(field, "a trait name is 1 to 100 letters, digits, '_', '.' or '-'")
    return queries.trait_sql(trait)


def filter_condition(name: str, value: str) -> SegmentKey:
    """One filter as an SQL condition over r (a, c) and its bound parameters."""
    if is_trait(name):
        expression, args = trait_key(name, name)
        return equals_sql(expression), (*args, value)
    if name not in FILTERS:
        raise InputError(name, f"not a filter; use one of {', '.join(FILTERS)} or trait:NAME")
    return FILTERS[name](), (value,)


# Memory for one report query's sorts and hash tables on PostgreSQL. Grouping a million
# responses by segment and account (and period) makes hundreds of thousands of groups; with
# the server default of 4 MB they spill to disk and the query runs several times slower.
REPORT_WORK_MEM = "64MB"


async def report_rows(sql: str, *args: Any) -> list[Row]:
    """Run a report's aggregate query; on PostgreSQL with REPORT_WORK_MEM for it alone
    (`SET LOCAL` inside its own read-only transaction)."""
    return await fetch_with_work_mem(REPORT_WORK_MEM, sql, *args)


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
    (row,) = await report_rows(queries.columns_sql(sql, columns), *args)
    # no rows: array_agg is NULL
    return {column: row[column] or [] for column in columns}


class NPSGroup(msgspec.Struct, kw_only=True, gc=False):
    """One group of an NPS report: its counts, NPS and interval (rounded to 2 places; None
    under 5 answers). Its JSON object has these keys in this order, `period` in a trend only.
    Holds no containers, so the garbage collector need not track it."""

    key: str | None  # the segment; None for the answers without one
    period: str | UnsetType | None = UNSET
    responses: int
    accounts: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    precision: Precision


class NPSReport(msgspec.Struct, kw_only=True):
    """A page of an NPS report (`load_nps_report`), as the API answers it."""

    group_by: str
    period: str | None
    ci_method: str
    confidence: float
    date_from: datetime | None = msgspec.field(name="from")
    date_to: datetime | None = msgspec.field(name="to")
    sort: str
    limit: int | None
    offset: int
    total_groups: int
    groups: list[NPSGroup]


def record_dict(record: msgspec.Struct) -> dict[str, Any]:
    """A record's fields as the keys of its JSON object (one level, unset fields left out)."""
    encode_name = dict(zip(record.__struct_fields__, record.__struct_encode_fields__, strict=True))
    return {
        encode_name[name]: value
        for name in record.__struct_fields__
        if (value := getattr(record, name)) is not UNSET
    }


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
    # whose answers: production unless another environment is named (one of ENVIRONMENTS,
    # as `parse_environment` gives it)
    environment: str = PRODUCTION


def default_sort(group_by: str) -> str:
    """The largest groups first where there is one per account or user, else by key."""
    return "-responses" if group_by in PAGED_BY_DEFAULT else "key"


def default_limit(group_by: str) -> int:
    """The page size when none is asked for: a page by account or user, else the maximum
    (which every plan, role, CSM or period grouping fits in)."""
    return DEFAULT_PAGE if group_by in PAGED_BY_DEFAULT else MAX_PAGE


def check_environment(environment: str) -> None:
    """Refuse an environment not spelt as `parse_environment` gives it: the reports compare
    it as is."""
    if environment not in ENVIRONMENTS:
        raise InputError("environment", f"must be one of {', '.join(ENVIRONMENTS)}")


def check_query(query: NPSQuery) -> None:
    check_environment(query.environment)
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


def grouping_for(group_by: str) -> Grouping:
    trait = trait_key("group_by", group_by) if is_trait(group_by) else None
    return queries.grouping_sql(group_by, trait)


def counts_sql(
    principal: Principal, query: NPSQuery, grouping: Grouping
) -> tuple[str, list[Any], str | None]:
    """The query of counts per group (columns k, pk, responses, accounts, promoters,
    passives, detractors; see `queries.nps_counts_sql`), its bound parameters, and the
    period's display expression over `t.pk` (None without a period)."""
    where, args = _where(principal, query, grouping)
    sql, period = queries.nps_counts_sql(principal, grouping, query.group_by, where, query.period)
    return sql, args, period


def _page_args(query: NPSQuery, limit: int) -> list[Any]:
    if query.period is None:
        return [limit, query.offset]
    return [query.offset, query.offset + limit]


async def exact_accounts(
    principal: Principal, query: NPSQuery, grouping: Grouping, rows: list[Row]
) -> None:
    """Fill in `accounts` where the one-step count by user left it open (a user who moved
    between accounts, or the answers of deleted users): COUNT(DISTINCT account) for those
    groups of the page only."""
    open_rows = [row for row in rows if row["accounts"] is None]
    if not open_rows:
        return
    refs = sorted({row["ref"] for row in open_rows if row["ref"] is not None})
    null_ref = any(row["ref"] is None for row in open_rows)
    where, args = _where(principal, query, grouping)
    sql = queries.exact_accounts_sql(principal, grouping, where, query.period, len(refs), null_ref)
    found = {
        (row["k"], row["period"]): int(row["n"]) for row in await report_rows(sql, *args, *refs)
    }
    for row in open_rows:
        row["accounts"] = found.get((row["ref"], row["period"]), 0)


async def load_nps_report(principal: Principal, query: NPSQuery) -> NPSReport:
    """One page of groups (`query.limit`, from `query.offset`; every group with no limit),
    sorted by `query.sort`, each with its counts, NPS and interval, and `total_groups`."""
    check_query(query)
    rows, total = await _report_rows(principal, query, query.limit)
    return NPSReport(
        group_by=query.group_by,
        period=query.period,
        ci_method=query.ci_method,
        confidence=query.confidence,
        date_from=query.date_from,
        date_to=query.date_to,
        sort=query.sort or default_sort(query.group_by),
        limit=query.limit,
        offset=query.offset,
        total_groups=total,
        groups=with_intervals(rows, query),
    )


async def _report_rows(
    principal: Principal, query: NPSQuery, limit: int | None
) -> tuple[list[Row], int]:
    grouping = grouping_for(query.group_by)
    counts, args, period = counts_sql(principal, query, grouping)
    if grouping.inner is None and period is None:
        # one group of every answer: an empty selection still yields its one row of counts
        return await report_rows(queries.one_group_sql(counts), *args), 1
    sort = query.sort or default_sort(query.group_by)
    sql = page_sql(counts, grouping, period, sort, paged=limit is not None)
    page = _page_args(query, limit) if limit is not None else []
    rows = await report_rows(sql, *args, *page)
    if rows:
        total = int(rows[0]["total_groups"])
    elif query.offset:  # past the last page: the window count has no row to ride on
        total = int((await report_rows(queries.group_count_sql(counts), *args))[0]["n"])
    else:
        total = 0
    await exact_accounts(principal, query, grouping, rows)
    return rows, total


def with_intervals(rows: list[Row], query: NPSQuery) -> list[NPSGroup]:
    """The rows as report groups: one vectorised call for all their intervals."""
    results = nps_intervals(
        [_counts(row) for row in rows], confidence=query.confidence, method=query.ci_method
    )
    return [_with_interval(row, result, query) for row, result in zip(rows, results, strict=True)]


# CSV exports are computed in chunks of this many groups, and streamed
CSV_CHUNK = 5000


async def stream_rows(sql: str, *args: Any, chunk: int = CSV_CHUNK) -> AsyncIterator[list[Row]]:
    """A report query's rows, `chunk` at a time. On PostgreSQL from a cursor (REPORT_WORK_MEM
    in its own read-only transaction), so no more than a chunk is in memory at once; SQLite
    (the small, embedded case) reads them at once."""
    async for rows in stream(sql, *args, chunk=chunk, work_mem=REPORT_WORK_MEM):
        yield rows


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
    add_scope(where, args, principal, query.date_from, query.date_to, query.environment)
    return where, args


def _counts(row: Row) -> tuple[int, int, int]:
    return (int(row["promoters"] or 0), int(row["passives"] or 0), int(row["detractors"] or 0))


def _with_interval(row: Row, result: NPSResult, query: NPSQuery) -> NPSGroup:
    counts = _counts(row)
    return NPSGroup(
        key=row["key"],
        period=row["period"] if query.period else UNSET,
        responses=int(row["responses"] or 0),
        accounts=int(row["accounts"] or 0),
        promoters=counts[0],
        passives=counts[1],
        detractors=counts[2],
        nps=None if result.nps is None else round(result.nps, 2),
        ci_low=None if result.ci_low is None else round(result.ci_low, 2),
        ci_high=None if result.ci_high is None else round(result.ci_high, 2),
        precision=result.precision,
    )


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


# what starts a formula in Excel, LibreOffice or Google Sheets, full-width and small forms
# included (the apps read them as their ASCII twins)
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe: a cell that
    starts with a formula character once leading whitespace and invisible characters are
    skipped (spreadsheets skip them too), or that starts with a tab or a line break."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r\n" or _first_visible(value) in FORMULA_STARTS:
        return "'" + value
    return value


def _first_visible(text: str) -> str:
    for character in text:
        if not character.isspace() and unicodedata.category(character) not in ("Cc", "Cf"):
            return character
    return ""


def _csv_row(group: NPSGroup, columns: tuple[str, ...]) -> list[Any]:
    values = (getattr(group, c) for c in columns)
    return ["" if v is None else spreadsheet_safe(v) for v in values]


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class AccountMark:
    """What the quadrant page says beside an account: its currency, and whether it churned
    (a termination notice or a non-renewal, or the status churned) and when it was noticed."""

    currency: str
    churned: bool
    churned_at: datetime | None


async def account_marks(principal: Principal) -> dict[str, AccountMark]:
    """The marks of the principal's accounts with an ARR, by external id: a churned account
    in the protect list is revenue already lost, not revenue to protect."""
    csm = principal.role is Role.csm
    rows = await fetch(queries.account_marks_sql(csm), *([principal.csm_id] if csm else []))
    return {
        row["account_id"]: AccountMark(
            row["currency"] or "USD",
            row["churned_at"] is not None or row["status"] == "churned",
            as_utc_datetime(row["churned_at"]),
        )
        for row in rows
    }


# `has_comment` as the pages (yes, no, all) and the API (true, false) spell it
HAS_COMMENT: dict[str, bool | None] = {
    "yes": True,
    "true": True,
    "no": False,
    "false": False,
    "all": None,
}


def has_comment_of(text: str | None, default: bool | None) -> bool | None:
    """A `has_comment` parameter in either spelling (any case); `default` when empty."""
    if not text:
        return default
    if text.lower() not in HAS_COMMENT:
        raise InputError("has_comment", "must be yes, no or all (true and false work too)")
    return HAS_COMMENT[text.lower()]
