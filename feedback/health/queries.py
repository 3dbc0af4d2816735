"""Every SQL statement the health domain runs (snapshots, usage metrics, retention, the churn
model, the health reads), and the builders of those assembled at run time.

Statements use Piccolo's `{}` placeholders; builders return SQL text from whitelisted pieces
and say which parameters to bind, in order. Indexes: `health_snapshot_account_day` (unique
account, day), `health_snapshot_day_csm` (day, csm), `health_snapshot_csm_day` (csm, day),
`usage_metric_account_name_day` (unique) and `day` on usage_metric,
`response_account_answered_at` (account, answered_at), `churn_event_account_noticed_at`.
"""

from __future__ import annotations

from collections.abc import Sequence

from feedback.db import Statement, is_sqlite
from feedback.kernel.nps import detractor_count_sql, promoter_count_sql

# ------------------------------------------------------------------------- the snapshot

# Per live production account on the day (created before its end, no churn in effect yet;
# not one seen only through staging or development keys), ordered by
# id: id, csm, arr_cents, and over the response window (production answers only: health is
# a state of real accounts) responses, promoters, detractors,
# respondents and the same counts since the window's middle (recent_n, recent_p,
# recent_d), with the production end users made before the day's end (a user seen only
# through staging or development keys is no one the account's coverage misses).
# Parameters: the window's middle three times, its start, its end four times. Index:
# response `answered_at`.
SNAPSHOT_ACCOUNTS = Statement(
    f"""
SELECT a.id, a.csm, a.arr_cents,
       r.responses, r.promoters, r.detractors, r.respondents,
       r.recent_n, r.recent_p, r.recent_d, u.users
FROM account a
LEFT JOIN (
    SELECT account,
           COUNT(*) AS responses,
           {promoter_count_sql("score")} AS promoters,
           {detractor_count_sql("score")} AS detractors,
           COUNT(DISTINCT end_user) AS respondents,
           SUM(CASE WHEN answered_at >= {{}} THEN 1 ELSE 0 END) AS recent_n,
           {promoter_count_sql("score", where="answered_at >= {}")} AS recent_p,
           {detractor_count_sql("score", where="answered_at >= {}")} AS recent_d
    FROM response
    WHERE answered_at >= {{}} AND answered_at < {{}} AND environment = 'production'
    GROUP BY account
) r ON r.account = a.id
LEFT JOIN (
    SELECT account, COUNT(*) AS users FROM end_user
    WHERE created_at < {{}} AND environment = 'production'
    GROUP BY account
) u ON u.account = a.id
WHERE a.created_at < {{}} AND a.environment = 'production'
  AND NOT EXISTS (
      SELECT 1 FROM churn_event ce
      WHERE ce.account = a.id AND COALESCE(ce.effective_at, ce.noticed_at) < {{}}
  )
ORDER BY a.id
"""  # noqa: S608 - the interpolated pieces are feedback.kernel.nps's fragments
)

# Each account's newest value of each usage metric in (oldest, day]: account, name, value.
# Parameters: the day, the oldest day left out. Index: usage_metric `day`.
LATEST_METRICS = Statement(
    """
SELECT account, name, value
FROM (
    SELECT account, name, value,
           ROW_NUMBER() OVER (PARTITION BY account, name ORDER BY day DESC) AS newest
    FROM usage_metric
    WHERE day <= {} AND day > {}
) m
WHERE newest = 1
"""
)

# PostgreSQL: nothing; waits for the transaction-scoped advisory lock of one key.
WAIT_FOR_DAY_LOCK = Statement("SELECT pg_advisory_xact_lock({})")

# PostgreSQL: `got`, whether the transaction-scoped advisory lock of one key was free.
TRY_DAY_LOCK = Statement("SELECT pg_try_advisory_xact_lock({}) AS got")

# ----------------------------------------------------------------------- usage metrics

# Nothing; writes one value (account, name, day, value, updated_at), replacing the value
# of the same account, name and day (unique index usage_metric_account_name_day).
UPSERT_USAGE_METRIC = Statement(
    "INSERT INTO usage_metric (account, name, day, value, updated_at) "
    "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (account, name, day) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)

# -------------------------------------------------------------------------- the reads

# Each account's snapshot on the latest day: account, day, score, band (index
# health_snapshot_day_csm, for MAX(day) and the day's rows).
_LATEST_SCORES = """
SELECT account, day, score, band FROM health_snapshot
WHERE day = (SELECT MAX(day) FROM health_snapshot)
"""


def latest_scores_sql(accounts: int | None) -> str:
    """`account, day, score, band` of each account's snapshot on the latest day; with
    `accounts`, of that many accounts only (their ids are the parameters)."""
    if accounts is None:
        return _LATEST_SCORES
    marks = ", ".join("{}" for _ in range(accounts))
    return f"{_LATEST_SCORES} AND account IN ({marks})"


def scores_on_sql(accounts: int | None) -> str:
    """`account, day, score, band` of the snapshots of one day (the first parameter); with
    `accounts`, of that many accounts only (their ids are the next parameters). Indexes:
    health_snapshot_day_csm (a day's rows), health_snapshot_account_day (an account's)."""
    sql = "SELECT account, day, score, band FROM health_snapshot WHERE day = {}"
    if accounts is None:
        return sql
    return f"{sql} AND account IN ({', '.join('{}' for _ in range(accounts))})"


def newest_scores_sql(accounts: int) -> str:
    """`account, day, score, band` of the newest snapshot of each of `accounts` accounts
    (their ids are the parameters), whatever its day. Index: health_snapshot_account_day."""
    marks = ", ".join("{}" for _ in range(accounts))
    return (
        "SELECT h.account, h.day, h.score, h.band FROM health_snapshot h "  # noqa: S608
        f"WHERE h.account IN ({marks}) AND h.day = "
        "(SELECT MAX(n.day) FROM health_snapshot n WHERE n.account = h.account)"
    )


# One account's newest snapshots with a score, newest first: day, score, band. Parameters:
# the account, how many. Index: health_snapshot_account_day.
SCORED_DAYS = Statement(
    "SELECT day, score, band FROM health_snapshot WHERE account = {} AND score IS NOT NULL "
    "ORDER BY day DESC LIMIT {}"
)

# ---------------------------------------------------------------- the book, trends, movers


def csm_email_condition(csm_column: str) -> str:
    """A condition: `csm_column` is the CSM with the email given as one parameter (csm's
    unique email index)."""
    return f"{csm_column} IN (SELECT id FROM csm WHERE email = {{}})"  # noqa: S608


def team_condition(csm_column: str) -> str:
    """A condition: `csm_column` is a CSM reporting to the manager whose email is given as
    one parameter."""
    team = "SELECT c.id FROM csm c JOIN csm m ON m.id = c.manager WHERE m.email = {}"
    return f"{csm_column} IN ({team})"


def band_summary_sql(where: Sequence[str]) -> str:
    """Per band of the snapshots `s` (with their account `a`) meeting `where`: band,
    accounts, score_sum, scored (how many have a score). The parameters of `where`."""
    return f"""
        SELECT s.band, COUNT(*) AS accounts, SUM(s.score) AS score_sum, COUNT(s.score) AS scored
        FROM health_snapshot s JOIN account a ON a.id = s.account
        WHERE {" AND ".join(where)}
        GROUP BY s.band
    """  # noqa: S608 - only whitelisted conditions are interpolated


def accounts_on_day_sql(where: Sequence[str]) -> str:
    """One page of the snapshots `s` (with their account `a`) meeting `where`, lowest score
    first: account_id, name, csm_email, score, band, components, arr_cents, score_7d_ago,
    score_30d_ago (index health_snapshot_account_day for the earlier days). Parameters: the
    day 7 days before, the day 30 days before, those of `where`, the limit, the offset."""
    return f"""
        SELECT a.external_id AS account_id, a.name, c.email AS csm_email,
               s.score, s.band, s.components, s.arr_cents,
               s7.score AS score_7d_ago, s30.score AS score_30d_ago
        FROM health_snapshot s
        JOIN account a ON a.id = s.account
        LEFT JOIN csm c ON c.id = a.csm
        LEFT JOIN health_snapshot s7 ON s7.account = s.account AND s7.day = {{}}
        LEFT JOIN health_snapshot s30 ON s30.account = s.account AND s30.day = {{}}
        WHERE {" AND ".join(where)}
        ORDER BY CASE WHEN s.score IS NULL THEN 1 ELSE 0 END, s.score, a.external_id
        LIMIT {{}} OFFSET {{}}
    """  # noqa: S608 - only whitelisted conditions are interpolated


# the number of snapshots in each band, as columns green, yellow, red and unknown
_BAND_COUNTS = """
               SUM(CASE WHEN s.band = 'green' THEN 1 ELSE 0 END) AS green,
               SUM(CASE WHEN s.band = 'yellow' THEN 1 ELSE 0 END) AS yellow,
               SUM(CASE WHEN s.band = 'red' THEN 1 ELSE 0 END) AS red,
               SUM(CASE WHEN s.band = 'unknown' THEN 1 ELSE 0 END) AS unknown"""


def trend_sql(where: Sequence[str]) -> str:
    """Per day of the snapshots `s` meeting `where`, in order: day, accounts, mean_score and
    the band counts (index health_snapshot_csm_day for a CSM's). The parameters of
    `where`."""
    return f"""
        SELECT s.day, COUNT(*) AS accounts, AVG(s.score) AS mean_score,{_BAND_COUNTS}
        FROM health_snapshot s
        WHERE {" AND ".join(where)}
        GROUP BY s.day ORDER BY s.day
    """  # noqa: S608 - only whitelisted conditions are interpolated


def by_csm_sql(where: Sequence[str]) -> str:
    """Per snapshot CSM and day of the snapshots `s` meeting `where`: csm, csm_email,
    csm_name, day, accounts, mean_score and the band counts (index health_snapshot_day_csm).
    The parameters of `where`."""
    return f"""
        SELECT s.csm, c.email AS csm_email, c.name AS csm_name, s.day, COUNT(*) AS accounts,
               AVG(s.score) AS mean_score,{_BAND_COUNTS}
        FROM health_snapshot s
        LEFT JOIN csm c ON c.id = s.csm
        WHERE {" AND ".join(where)}
        GROUP BY s.csm, c.email, c.name, s.day
    """  # noqa: S608 - only whitelisted conditions are interpolated


def movers_sql(where: Sequence[str]) -> str:
    """The snapshots `s` (with their account `a`) meeting `where` that moved into red since
    their snapshot `p` of an earlier day, or whose score dropped, those into red first, then
    by the drop: account_id, name, csm_email, csm_name, score, band, score_before,
    band_before, into_red (index health_snapshot_account_day for `p`). Parameters: the
    earlier day, those of `where`, the limit."""
    into_red = "(s.band = 'red' AND p.band <> 'red')"
    return f"""
        SELECT a.external_id AS account_id, a.name, c.email AS csm_email, c.name AS csm_name,
               s.score, s.band, p.score AS score_before, p.band AS band_before,
               CASE WHEN {into_red} THEN 1 ELSE 0 END AS into_red
        FROM health_snapshot s
        JOIN account a ON a.id = s.account
        JOIN health_snapshot p ON p.account = s.account AND p.day = {{}}
        LEFT JOIN csm c ON c.id = a.csm
        WHERE {" AND ".join(where)} AND ({into_red} OR s.score < p.score)
        ORDER BY CASE WHEN {into_red} THEN 0 ELSE 1 END,
                 CASE WHEN s.score IS NULL OR p.score IS NULL THEN 1 ELSE 0 END,
                 s.score - p.score, a.external_id
        LIMIT {{}}
    """  # noqa: S608 - only whitelisted conditions are interpolated


# --------------------------------------------------------------------------- retention

_RETENTION_ACCOUNTS = """
SELECT a.id, a.created_at, a.arr_cents,
       (SELECT MIN(COALESCE(ce.effective_at, ce.noticed_at)) FROM churn_event ce
        WHERE ce.account = a.id) AS churned_at
FROM account a
WHERE {scope}
"""


def retention_accounts_sql(csm: bool) -> str:
    """Every production account (a CSM's own with `csm`: the CSM's id is the parameter):
    id, created_at, arr_cents and the first churn in effect, `churned_at` (churn_event's
    account index)."""
    scope = "a.csm = {}" if csm else "1 = 1"
    return _RETENTION_ACCOUNTS.format(scope=f"{scope} AND a.environment = 'production'")


# Each account's ARR (account, arr_cents) on its latest snapshot in (oldest, day].
# Parameters: the day, the oldest day left out. Index: health_snapshot_day_csm for the
# days, health_snapshot_account_day for the join.
ARR_AT = Statement(
    """
SELECT s.account, s.arr_cents
FROM health_snapshot s
JOIN (
    SELECT account, MAX(day) AS day FROM health_snapshot
    WHERE day <= {} AND day > {} GROUP BY account
) latest ON latest.account = s.account AND latest.day = s.day
"""
)

# ---------------------------------------------------------------------- the churn model


def feature_window_sql(days: float) -> tuple[str, str, str]:
    """Conditions for the features' window of `days` from an account's first answer `f.t0`:
    a response `r` answered within it, in its second half, a usage metric `m`'s day within
    it."""
    if is_sqlite():
        end = f"julianday(f.t0) + {days:.6f}"
        return (
            f"julianday(r.answered_at) <= {end}",
            f"julianday(r.answered_at) > julianday(f.t0) + {days / 2:.6f}",
            f"m.day >= date(f.t0) AND julianday(m.day) <= {end}",
        )
    span = f"f.t0 + interval '{days:.6f} days'"
    return (
        f"r.answered_at <= {span}",
        f"r.answered_at > f.t0 + interval '{days / 2:.6f} days'",
        f"m.day >= (f.t0 AT TIME ZONE 'UTC')::date "
        f"AND m.day <= (({span}) AT TIME ZONE 'UTC')::date",
    )


# each account's first production answer, t0 (index response_account_answered_at)
_FIRST_ANSWERS = (
    "WITH f AS (SELECT account, MIN(answered_at) AS t0 FROM response "
    "WHERE environment = 'production' GROUP BY account)"
)


def account_features_sql(within: str, second_half: str, csm: bool) -> str:
    """Per account with production answers (a CSM's own with `csm`: the CSM's id is the
    parameter), over its production answers `within` the window: id, renewal_date, t0,
    responses, promoters, detractors, respondents, the same counts in the `second_half`
    (late_n, late_p, late_d), its production end users and its first churn notice
    `churned_at`."""
    scope = "WHERE a.csm = {}" if csm else ""
    return f"""
        {_FIRST_ANSWERS}
        SELECT a.id, a.renewal_date, f.t0,
               COUNT(r.id) AS responses,
               {promoter_count_sql("r.score")} AS promoters,
               {detractor_count_sql("r.score")} AS detractors,
               COUNT(DISTINCT r.end_user) AS respondents,
               SUM(CASE WHEN {second_half} THEN 1 ELSE 0 END) AS late_n,
               {promoter_count_sql("r.score", where=second_half)} AS late_p,
               {detractor_count_sql("r.score", where=second_half)} AS late_d,
               (SELECT COUNT(*) FROM end_user u
                WHERE u.account = a.id AND u.environment = 'production') AS users,
               (SELECT MIN(ce.noticed_at) FROM churn_event ce WHERE ce.account = a.id)
                   AS churned_at
        FROM f
        JOIN account a ON a.id = f.account
        JOIN response r ON r.account = a.id AND {within} AND r.environment = 'production'
        {scope}
        GROUP BY a.id, a.renewal_date, f.t0
    """  # noqa: S608 - the interpolated pieces are built from numbers


def metric_means_sql(metric_within: str) -> str:
    """Per account and usage metric: account, name and the mean `value` over the metric's
    days `metric_within` the account's feature window. No parameters."""
    return f"""
        {_FIRST_ANSWERS}
        SELECT m.account, m.name, AVG(m.value) AS value
        FROM usage_metric m JOIN f ON f.account = m.account
        WHERE {metric_within}
        GROUP BY m.account, m.name
    """  # noqa: S608
