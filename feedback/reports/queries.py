"""Every SQL statement the reports run, and the builders of the ones assembled at run time.

A report's statement depends on its grouping, filters, period and sort, so most of this
module is builders: each returns SQL text (with Piccolo's `{}` placeholders) from pieces
that are whitelisted here or checked by the caller (feedback/reports/services.py checks a
trait's name before `trait_sql` sees it). The callers run the text with
`feedback.db.fetch_with_work_mem` or `feedback.db.stream`, and bind the parameters in the
order each builder's docstring gives.

Every report scans `response r` (indexes: `response_account_answered_at` (account,
answered_at) and `answered_at` for a period; the others follow the filters), and reads the
answers of one environment only (`ENVIRONMENT_IS`, added by `add_scope`; production unless a
caller names another): staging and development answers never reach the production numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.nps import COUNTS_ONLY_BELOW
from feedback.db import is_sqlite
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.nps import (
    DETRACTOR_MAX,
    PASSIVE_MIN,
    PROMOTER_MIN,
    detractor_count_sql,
    promoter_count_sql,
)
from feedback.kernel.principal import Principal, Role

# --------------------------------------------------------------------- segments and filters

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


def _csm_filter() -> str:
    return f"r.csm IN (SELECT cs.id FROM csm cs WHERE {equals_sql('cs.email')})"  # noqa: S608


def _manager_filter() -> str:
    teams = "SELECT cm.id FROM csm cm JOIN csm mg ON mg.id = cm.manager"
    return f"r.csm IN ({teams} WHERE {equals_sql('mg.email')})"


# filters are whitelisted conditions with one bound value (built per engine: see
# `equals_sql`). Labels (plan, role, industry, company size) and e-mail addresses match
# whatever the case of their letters (`plan=Free` finds `free`). The CSM and the manager are
# found once by a subquery over the small csm table instead of joining it to every response
# (the response side can then use its `csm` index); the account and the user are external
# ids, matched exactly (an index look-up on account's and end_user's unique external_id)
FILTERS: dict[str, Callable[[], str]] = {
    "plan": lambda: equals_sql("r.plan"),
    "role": lambda: equals_sql("r.role"),
    "industry": lambda: equals_sql("r.industry"),
    "company_size": lambda: equals_sql("r.company_size"),
    "csm": _csm_filter,
    "manager": _manager_filter,
    "account": lambda: "a.external_id = {}",
    "user": lambda: "r.end_user = (SELECT eu.id FROM end_user eu WHERE eu.external_id = {})",
}
SegmentKey = tuple[str, tuple[Any, ...]]


def trait_sql(trait: str) -> SegmentKey:
    """A custom trait's value in the response's snapshot `r.traits`, as text: the SQL
    expression and its one bound parameter. `trait` (NAME of `trait:NAME`) must already be
    checked; it is never part of the SQL text."""
    if is_sqlite():
        # a quoted path: json_extract's (and ->>'s) '$.a.b' reads key b inside key a
        return "CAST(json_extract(r.traits, {}) AS TEXT)", (f'$."{trait}"',)
    return "r.traits ->> CAST({} AS text)", (trait,)


def equals_sql(expression: str) -> str:
    """A condition: `expression` equals one bound value, ignoring the case of ASCII letters
    on both engines: SQLite's NOCASE collation; on PostgreSQL lower() under the "C"
    collation, which folds ASCII only and costs about as little as a plain comparison
    (lower() under the database's own collation doubled the time of a filtered report)."""
    if is_sqlite():
        return f"{expression} = {{}} COLLATE NOCASE"
    return f'lower(({expression}) COLLATE "C") = lower(({{}}) COLLATE "C")'


# the one condition that keeps a report to the answers of one environment (one parameter:
# a checked environment's name). Every answer has one (NOT NULL, default production), so the
# production reports read the same rows as before the column existed
ENVIRONMENT_IS = "r.environment = {}"


def add_scope(
    where: list[str],
    args: list[Any],
    principal: Principal,
    date_from: datetime | None,
    date_to: datetime | None,
    environment: str = PRODUCTION,
) -> None:
    """The conditions every report shares: the answers of one environment (production
    unless asked; `environment` must already be checked, e.g. by `parse_environment`), the
    answer period, and a CSM's own accounts. Expects response r and account a in the query."""
    where.append(ENVIRONMENT_IS)
    args.append(environment)
    if date_from is not None:
        where.append("r.answered_at >= {}")
        args.append(date_from)
    if date_to is not None:
        where.append("r.answered_at < {}")
        args.append(date_to)
    if principal.role is Role.csm:
        where.append("a.csm = {}")
        args.append(principal.csm_id)


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


# ----------------------------------------------------------------------------- periods


def period_sql(kind: str) -> str:
    """A response's quarter (`2026-Q1`) or month (`2026-01`) as text, in UTC."""
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


def period_parts_sql(kind: str) -> tuple[str, str]:
    """A period as (grouping expression over response r, display expression over column
    `pk`). On PostgreSQL the scan groups by the cheap `date_trunc` and only the few result
    rows are formatted; SQLite groups by the formatted text directly."""
    if is_sqlite():
        return period_sql(kind), "pk"
    fmt = "YYYY-MM" if kind == "month" else 'YYYY"-Q"Q'
    return f"date_trunc('{kind}', r.answered_at AT TIME ZONE 'UTC')", f"to_char(pk, '{fmt}')"


# ------------------------------------------------------------------------ the NPS report


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


def grouping_sql(group_by: str, trait: SegmentKey | None = None) -> Grouping:
    """The grouping of one of GROUPS, or of a trait (its `trait_sql`)."""
    if trait is not None:
        return Grouping(trait[0], trait[1])
    if group_by == "none":
        return Grouping(None, name="'all'")
    if group_by in BY_REFERENCE:
        inner, table, column = BY_REFERENCE[group_by]
        join = f"LEFT JOIN {table} nm ON nm.id = t.k"
        return Grouping(inner, name=f"nm.{column}", name_join=join, sort_key=f"nm.{column}")
    expression = GROUPS[group_by]
    if expression in ("__quarter__", "__month__"):
        inner, outer = period_parts_sql(expression.strip("_"))
        # ordered by the period itself (a date on PostgreSQL): chronological
        return Grouping(inner, name=outer.replace("pk", "t.k"))
    return Grouping(expression)


# scores are 0 to 10 (checked at intake and import): passives are the answers that are
# neither, which saves the scan a third CASE per response
_PROMOTERS = promoter_count_sql("r.score")
_DETRACTORS = detractor_count_sql("r.score")


def nps_counts_sql(
    principal: Principal,
    grouping: Grouping,
    group_by: str,
    where: Sequence[str],
    period: str | None,
) -> tuple[str, str | None]:
    """The query of counts per group (columns k, pk, responses, accounts, promoters,
    passives, detractors) of the answers meeting `where`, split by `period` when given, and
    the period's display expression over `t.pk` (None without a period). Its parameters: the
    grouping's, then those of `where`.

    The number of accounts per group: by account it is one; a user belongs to one account
    at a time, so by user it is one unless the user moved (MIN and MAX of the account differ:
    `accounts` is then NULL and `exact_accounts_sql` counts it for the page); for any other
    grouping the counts are taken per group and account first, then per group, where the
    number of accounts is a plain COUNT(*): much cheaper than COUNT(DISTINCT account) over
    every response. Queries group by their output names: a trait's expression carries a
    bound parameter, and a second copy of it (with its own parameter) would not be the same
    expression to PostgreSQL."""
    period_inner, period_outer = period_parts_sql(period) if period else (None, None)
    joins = report_joins(principal, grouping.inner or "", *where)
    grouped = [e for e in (grouping.inner and "k", period_inner and "pk") if e]
    keys = f"{grouping.inner or 'NULL'} AS k, {period_inner or 'NULL'} AS pk"
    source = f"FROM response r {joins} WHERE {' AND '.join(where)}"
    one_step = {"account": "1", "user": "CASE WHEN MIN(r.account) = MAX(r.account) THEN 1 END"}
    if group_by in one_step:
        sql = f"""
            SELECT {keys}, COUNT(*) AS responses, {one_step[group_by]} AS accounts,
                   {_PROMOTERS} AS promoters,
                   COUNT(*) - {_PROMOTERS} - {_DETRACTORS} AS passives,
                   {_DETRACTORS} AS detractors
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
                SELECT {keys}, r.account AS account, COUNT(*) AS n, {_PROMOTERS} AS pro,
                       {_DETRACTORS} AS det
                {source}
                GROUP BY {", ".join([*grouped, "r.account"])}
            ) t
            {f"GROUP BY {', '.join(grouped)}" if grouped else ""}
        """  # noqa: S608 - every interpolated piece is a whitelisted expression
    return sql, period_outer and period_outer.replace("pk", "t.pk")


def one_group_sql(counts: str) -> str:
    """The one group of every answer (`group_by=none` without a period), as a page row:
    an empty selection still yields its one row of counts. The parameters of `counts`."""
    return f"SELECT 'all' AS key, NULL AS period, NULL AS ref, t.* FROM ({counts}) t"  # noqa: S608


def group_count_sql(counts: str) -> str:
    """The number of groups (`n`) of a counts query: for a page past the last one, where
    the window count has no row to ride on. The parameters of `counts`."""
    return f"SELECT COUNT(*) AS n FROM (SELECT t.k FROM ({counts}) t GROUP BY t.k) g"  # noqa: S608


def order_sql(sort: str, sort_key: str, responses: str, promoters: str, detractors: str) -> str:
    """ORDER BY terms for one of the report's sorts (`key`, `responses` or `nps`, `-` for
    descending); ties go to the larger group, then to the key (for a reference, its integer
    id: the order the rows were made). Groups too small for a score come last."""
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
    with `paged` one page of them (two more parameters after those of `counts`: the limit
    and offset, or in a trend the first and last rank). Without a period the database sorts
    the groups and keeps the page's (a top-N sort), and only those are named; in a trend the
    page is of groups, each with all its periods, ranked by their totals over every period."""
    by_key = sort.lstrip("-") == "key"
    if period is None:
        inner_join = grouping.name_join if by_key else ""
        outer_join = "" if by_key else grouping.name_join
        name = "t.name" if by_key else grouping.name
        order = order_sql(sort, grouping.sort_key, "t.responses", "t.promoters", "t.detractors")
        outer_order = order_sql(sort, "t.name", "t.responses", "t.promoters", "t.detractors")
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
    order = order_sql(sort, "t.name", "t.key_responses", "t.key_promoters", "t.key_detractors")
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


def exact_accounts_sql(
    principal: Principal,
    grouping: Grouping,
    where: Sequence[str],
    period: str | None,
    refs: int,
    null_ref: bool,
) -> str:
    """The number of distinct accounts (`n`) per group key `k` and `period` of the answers
    meeting `where`, for the groups whose key is one of `refs` bound values, or NULL with
    `null_ref`. Its parameters: the grouping's, those of `where`, then the `refs` keys."""
    chosen = [f"{grouping.inner} IN ({', '.join('{}' for _ in range(refs))})"] if refs else []
    if null_ref:
        chosen.append(f"{grouping.inner} IS NULL")
    period_inner, period_outer = period_parts_sql(period) if period else ("NULL", "pk")
    return f"""
        SELECT t.k, {period_outer.replace("pk", "t.pk")} AS period, t.n
        FROM (
            SELECT {grouping.inner} AS k, {period_inner} AS pk, COUNT(DISTINCT r.account) AS n
            FROM response r {report_joins(principal, grouping.inner or "", *where)}
            WHERE {" AND ".join(where)} AND ({" OR ".join(chosen)})
            GROUP BY k, pk
        ) t
    """  # noqa: S608 - every interpolated piece is a whitelisted expression


def columns_sql(sql: str, columns: Sequence[str]) -> str:
    """PostgreSQL: the rows of `sql` as one row of arrays, one per column (`array_agg`; the
    aggregates of one query are fed the same rows in the same order). Its parameters."""
    packed = ", ".join(f"array_agg(t.{column}) AS {column}" for column in columns)
    return f"SELECT {packed} FROM ({sql}) t"  # noqa: S608


# ------------------------------------------------------------------------------- churn

# responses are aggregated per account first (one pass, grouped by an integer; index
# response_account_answered_at), then joined to the accounts, with each account's first
# churn notice from one grouped pass as well (index churn_event_account_noticed_at)
_CHURN_ACCOUNTS = """
SELECT a.id,
       a.created_at,
       a.observed_until,
       {segment} AS segment,
       COALESCE(t.responses, 0) AS responses,
       t.promoters,
       t.passives,
       t.detractors,
       t.mean_score,
       t.first_answer,
       ce.churned_at
FROM account a
{segment_joins}
LEFT JOIN (
    SELECT r.account,
           COUNT(*) AS responses,
           {promoters} AS promoters,
           COUNT(*) - {promoters} - {detractors} AS passives,
           {detractors} AS detractors,
           AVG(r.score) AS mean_score,
           MIN(r.answered_at) AS first_answer
    FROM response r
    WHERE {environment} {response_filter}
    GROUP BY r.account
) t ON t.account = a.id
LEFT JOIN (
    SELECT account, MIN(noticed_at) AS churned_at FROM churn_event GROUP BY account
) ce ON ce.account = a.id
WHERE {account_filter}
"""


def churn_accounts_sql(
    *,
    date_from: bool,
    date_to: bool,
    csm: bool,
    segment: str | None = None,
    production: bool = True,
) -> str:
    """Every account (a CSM's own with `csm`; with `production`, leaving out those seen only
    through staging or development keys) with its id, created_at, observed_until,
    `segment` (the value of the `segment` expression over account a, csm c (the account's
    CSM) and csm m (that CSM's manager), one of CHURN_SEGMENTS or `account_trait_sql`;
    NULL without one), responses, promoters, passives, detractors, mean_score, first_answer
    (over the answers of one environment in the period) and the first churn notice
    `churned_at`. Parameters: the segment expression's own (a trait's path), the
    environment, then each when asked for: the period's start and end, the CSM's id."""
    response_filter = ""
    if date_from:
        response_filter += " AND r.answered_at >= {}"
    if date_to:
        response_filter += " AND r.answered_at < {}"
    joins = []
    if segment is not None and re.search(r"\b[cm]\.", segment):
        joins.append("LEFT JOIN csm c ON c.id = a.csm")
    if segment is not None and re.search(r"\bm\.", segment):
        joins.append("LEFT JOIN csm m ON m.id = c.manager")
    return _CHURN_ACCOUNTS.format(
        segment=segment or "NULL",
        segment_joins="\n".join(joins),
        promoters=_PROMOTERS,
        detractors=_DETRACTORS,
        environment=ENVIRONMENT_IS,
        response_filter=response_filter,
        account_filter=("a.csm = {}" if csm else "1 = 1")
        + (" AND a.environment = 'production'" if production else ""),
    )


# ---------------------------------------------------------------------------- quadrant

# counts per account first (one pass over the responses, grouped by an integer), then the
# account's name, ARR and CSM for those few thousand rows
_QUADRANT = """
SELECT a.external_id AS account_id, a.name, a.arr_cents, c.email AS csm_email,
       t.responses, t.promoters, t.detractors
FROM (
    SELECT r.account, COUNT(*) AS responses, {promoters} AS promoters,
           {detractors} AS detractors
    FROM response r
    {joins}
    WHERE {condition}
    GROUP BY r.account
) t
JOIN account a ON a.id = t.account
LEFT JOIN csm c ON c.id = a.csm
WHERE a.arr_cents IS NOT NULL
"""


def quadrant_sql(principal: Principal, where: Sequence[str]) -> str:
    """Per account with an ARR and answers meeting `where`: account_id, name, arr_cents,
    csm_email, responses, promoters, detractors. The parameters of `where`."""
    return _QUADRANT.format(
        condition=" AND ".join(where),
        joins=report_joins(principal, *where),
        promoters=_PROMOTERS,
        detractors=_DETRACTORS,
    )


# ---------------------------------------------------------------------------- segments


def segment_counts_sql(principal: Principal, key: str, where: Sequence[str]) -> str:
    """Per segment `key` and account (`account`): promoters, passives and detractors of the
    answers meeting `where`. Parameters: the key's, then those of `where`."""
    passive = f"r.score BETWEEN {PASSIVE_MIN} AND {PROMOTER_MIN - 1}"
    return f"""
        SELECT {key} AS key, r.account AS account,
               {_PROMOTERS} AS promoters,
               SUM(CASE WHEN {passive} THEN 1 ELSE 0 END) AS passives,
               {_DETRACTORS} AS detractors
        FROM response r
        {report_joins(principal, key, *where)}
        WHERE {" AND ".join(where)}
        GROUP BY 1, r.account
    """  # noqa: S608 - the key is a whitelisted expression; a trait's name is a parameter


# --------------------------------------------------------------------------- responses

# the answers' score ranges of each category, bound as two parameters of SCORE_BETWEEN
SCORE_RANGES = {
    "promoter": (PROMOTER_MIN, 10),
    "passive": (PASSIVE_MIN, PROMOTER_MIN - 1),
    "detractor": (0, DETRACTOR_MAX),
}
SCORE_BETWEEN = "r.score BETWEEN {} AND {}"
# one parameter: a LIKE pattern over the lower-cased comment, with \ escaping % and _
COMMENT_LIKE = "LOWER(r.comment) LIKE {} ESCAPE '\\'"
HAS_COMMENT = "r.comment IS NOT NULL AND r.comment <> ''"
NO_COMMENT = "(r.comment IS NULL OR r.comment = '')"

_RESPONSES_FROM = """
FROM response r
JOIN account a ON a.id = r.account
LEFT JOIN end_user u ON u.id = r.end_user
LEFT JOIN csm c ON c.id = r.csm
"""


def responses_count_sql(where: Sequence[str]) -> str:
    """The number of answers (`n`) meeting `where`. The parameters of `where`."""
    return f"SELECT COUNT(*) AS n {_RESPONSES_FROM} WHERE {' AND '.join(where)}"


def responses_page_sql(where: Sequence[str]) -> str:
    """The answers meeting `where`, newest first (index `answered_at`), one page: their
    answered_at, score, comment, account_id, account_name, user_id, user_email, role, plan,
    industry, company_size, csm_email. Parameters: those of `where`, the limit, the offset."""
    return f"""SELECT r.answered_at, r.score, r.comment, a.external_id AS account_id,
                   a.name AS account_name, u.external_id AS user_id, u.email AS user_email,
                   r.role, r.plan, r.industry, r.company_size, c.email AS csm_email
            {_RESPONSES_FROM} WHERE {" AND ".join(where)}
            ORDER BY r.answered_at DESC, r.id DESC LIMIT {{}} OFFSET {{}}"""


# ------------------------------------------------------------------- churn by segment

# what churn by segment groups accounts by: the account's own attributes today (churn is
# an account's outcome), its CSM's email (csm c) and that CSM's manager's (csm m); a custom
# trait of the account is `account_trait_sql`
CHURN_SEGMENTS = {
    "plan": "a.plan",
    "industry": "a.industry",
    "company_size": "a.company_size",
    "csm": "c.email",
    "manager": "m.email",
}


def account_trait_sql(trait: str) -> SegmentKey:
    """A custom trait's value in the account's traits `a.traits`, as text: the SQL
    expression and its one bound parameter. `trait` must already be checked; it is never
    part of the SQL text."""
    if is_sqlite():
        return "CAST(json_extract(a.traits, {}) AS TEXT)", (f'$."{trait}"',)
    return "a.traits ->> CAST({} AS text)", (trait,)


# --------------------------------------------------------------------- filter choices

# the filters whose choices are a column of the response (segment attributes at answer time)
CHOICE_COLUMNS = {
    "plan": "r.plan",
    "role": "r.role",
    "industry": "r.industry",
    "company_size": "r.company_size",
}


def value_choices_sql(principal: Principal, expression: str, where: Sequence[str]) -> str:
    """The values of `expression` (a CHOICE_COLUMNS column or a trait's `trait_sql`) among
    the answers meeting `where`, spellings that differ only in case as one (`value`, the
    first spelling in sort order), with their answers `n`, the most answered first.
    Parameters: the expression's, those of `where`, then the limit. One pass over the
    answers in scope (on PostgreSQL the answered_at index for a period)."""
    folded = "lower(t.v)" if is_sqlite() else 'lower(t.v COLLATE "C")'
    return f"""
        SELECT MIN(t.v) AS value, COUNT(*) AS n
        FROM (
            SELECT {expression} AS v
            FROM response r {report_joins(principal, expression, *where)}
            WHERE {" AND ".join(where)}
        ) t
        WHERE t.v IS NOT NULL AND t.v <> ''
        GROUP BY {folded}
        ORDER BY n DESC, value
        LIMIT {{}}
    """  # noqa: S608 - the expression is whitelisted; a trait's name is a parameter


def csm_choices_sql(principal: Principal, where: Sequence[str], manager: bool) -> str:
    """The CSMs (with `manager`: their managers) of the answers meeting `where`: `value`
    (email), `label` (name) and their answers `n`, the most answered first. Grouped by the
    response's integer `csm` first, so the small csm table is joined to one row per CSM.
    Parameters: those of `where`, then the limit."""
    per_csm = f"""
        SELECT r.csm AS k, COUNT(*) AS n
        FROM response r {report_joins(principal, *where)}
        WHERE {" AND ".join(where)} AND r.csm IS NOT NULL
        GROUP BY r.csm
    """  # noqa: S608
    if manager:
        return f"""
            SELECT mg.email AS value, MIN(mg.name) AS label, SUM(t.n) AS n
            FROM ({per_csm}) t
            JOIN csm cs ON cs.id = t.k
            JOIN csm mg ON mg.id = cs.manager
            GROUP BY mg.email
            ORDER BY n DESC, value
            LIMIT {{}}
        """  # noqa: S608
    return f"""
        SELECT cs.email AS value, cs.name AS label, t.n
        FROM ({per_csm}) t
        JOIN csm cs ON cs.id = t.k
        ORDER BY t.n DESC, cs.email
        LIMIT {{}}
    """  # noqa: S608


# ------------------------------------------------------------ the quadrant's account marks


def account_marks_sql(csm: bool) -> str:
    """The accounts with an ARR (a CSM's own with `csm`): `account_id` (external id), their
    `currency`, `status` and `churned_at`, the first termination notice or non-renewal
    (NULL if none). One grouped pass over churn_event (index churn_event_account); the
    parameter, when asked for: the CSM's id."""
    return f"""
        SELECT a.external_id AS account_id, a.currency, a.status, ce.churned_at
        FROM account a
        LEFT JOIN (
            SELECT account, MIN(noticed_at) AS churned_at FROM churn_event GROUP BY account
        ) ce ON ce.account = a.id
        WHERE a.arr_cents IS NOT NULL {"AND a.csm = {}" if csm else ""}
    """  # noqa: S608


def choice_counts_sql(principal: Principal, where: Sequence[str]) -> str:
    """Answers `n` per combination of plan, role, industry, company_size and csm (the id)
    among the answers meeting `where`: one pass gives every dropdown of a page (a few
    thousand combinations where one GROUP BY per dimension would scan the answers five
    times). Parameters: those of `where`."""
    return f"""
        SELECT r.plan, r.role, r.industry, r.company_size, r.csm, COUNT(*) AS n
        FROM response r {report_joins(principal, *where)}
        WHERE {" AND ".join(where)}
        GROUP BY r.plan, r.role, r.industry, r.company_size, r.csm
    """  # noqa: S608


# every CSM's id, email and name, with their manager's email and name (the small csm table)
CSM_PEOPLE = """
SELECT cs.id, cs.email, cs.name, mg.email AS manager_email, mg.name AS manager_name
FROM csm cs LEFT JOIN csm mg ON mg.id = cs.manager
"""


# ---------------------------------------------------------------------- trait names


def _trait_keys(column: str) -> tuple[str, str]:
    """The keys of the JSON object in `column`, as a table-valued function to join and the
    expression of one key; none for a value that is not an object (the functions would
    fail on it or invent keys)."""
    if is_sqlite():
        only_objects = (
            f"CASE WHEN json_valid({column}) THEN "
            f"CASE WHEN json_type({column}) = 'object' THEN {column} END END"
        )
        return f"json_each({only_objects}) k", "k.key"
    only_objects = f"CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} END"
    return f"jsonb_object_keys({only_objects}) k(name)", "k.name"


def trait_names_sql(principal: Principal, where: Sequence[str]) -> str:
    """The custom trait names (`value`) in the snapshots `r.traits` of the newest answers
    meeting `where`, with the answers `n` carrying each, the most carried first. Sampling the
    newest answers (index `answered_at`) bounds the cost on a large table; a trait no recent
    answer carries is still reachable by naming it. Parameters: those of `where`, the sample
    size, then the limit."""
    keys, name = _trait_keys("s.traits")
    return f"""
        SELECT {name} AS value, COUNT(*) AS n
        FROM (
            SELECT r.traits
            FROM response r {report_joins(principal, *where)}
            WHERE {" AND ".join(where)}
            ORDER BY r.answered_at DESC
            LIMIT {{}}
        ) s, {keys}
        GROUP BY {name}
        ORDER BY n DESC, value
        LIMIT {{}}
    """  # noqa: S608 - every piece is fixed here; the values are parameters


def account_trait_names_sql(csm: bool) -> str:
    """The custom trait names (`value`) in the accounts' traits `a.traits` (a CSM's own
    accounts with `csm`), with the accounts `n` carrying each, the most carried first: what
    churn by segment can group by (`account_trait_sql`). Parameters: the CSM's id when asked
    for, then the limit. One pass over the account table."""
    keys, name = _trait_keys("a.traits")
    return f"""
        SELECT {name} AS value, COUNT(*) AS n
        FROM account a, {keys}
        {"WHERE a.csm = {}" if csm else ""}
        GROUP BY {name}
        ORDER BY n DESC, value
        LIMIT {{}}
    """  # noqa: S608 - every piece is fixed here; the values are parameters
