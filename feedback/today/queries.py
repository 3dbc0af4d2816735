"""Every SQL statement of Today (what needs a CSM, or a manager's team, today), as builders:
each takes how many CSM ids scope it (None: everyone) and returns SQL text with Piccolo's
`{}` placeholders, saying which parameters to bind, in order.

A scope of CSMs reads the CTAs they own, or of their accounts when nobody owns them
(`cta_scope`), and the answers, health and renewals of their accounts (`account_scope`).
Answers are production answers only: a test on a staging or development key is neither a
new detractor, nor a renewal's NPS, nor a sign of life; and an account seen only through
such keys is neither renewing nor going dark (docs/environments.md).
Indexes: `cta_owner_status` (owner, status), `cta_account`, `cta.status`, `cta_one_open`
(account, type, reason where not closed), `account.csm`, `account_renewal_date`,
`response.answered_at`, `response_account_answered_at` (account, answered_at),
`end_user_account`, `health_snapshot_day_csm` (day, csm), `health_snapshot_account_day`.
"""

from __future__ import annotations

from feedback.ctas.queries import CTA_VIEW
from feedback.kernel.nps import detractor_count_sql, is_detractor_sql, promoter_count_sql

# the statuses in which a CTA waits for someone (a snoozed one wakes when its time comes)
WAITING = "t.status IN ('open', 'acknowledged')"


def marks(count: int) -> str:
    return ", ".join("{}" for _ in range(count))


def cta_scope(csms: int | None) -> str:
    """A condition on a CTA `t` of account `a`: owned by one of `csms` CSMs, or nobody's and
    of one of their accounts. Parameters: the CSM ids twice. Empty for everyone."""
    if csms is None:
        return ""
    ids = marks(csms)
    return f" AND (t.owner IN ({ids}) OR (t.owner IS NULL AND a.csm IN ({ids})))"


def account_scope(csms: int | None) -> str:
    """A condition on an account `a`: one of `csms` CSMs' (the CSM ids). Empty for everyone."""
    return "" if csms is None else f" AND a.csm IN ({marks(csms)})"


# the most urgent first, then the largest account, then the oldest due date
_URGENT_FIRST = (
    "ORDER BY t.priority, CASE WHEN a.arr_cents IS NULL THEN 1 ELSE 0 END, a.arr_cents DESC, "
    "t.due_on, t.id"
)


def due_ctas_sql(csms: int | None, overdue: bool) -> str:
    """Waiting CTAs in scope due before a day (`overdue`) or on it, as shown, most urgent
    first. Parameters: the day, the scope's, the limit (cta_owner_status, cta.status)."""
    due = "t.due_on < {}" if overdue else "t.due_on = {}"
    return f"{CTA_VIEW} WHERE {WAITING} AND {due}{cta_scope(csms)} {_URGENT_FIRST} LIMIT {{}}"


def cta_counts_sql(csms: int | None) -> str:
    """Per owner (None: nobody) of the CTAs in scope not closed: owner, overdue and due_today
    (waiting and due before the day, on it) and open (not closed). Parameters: the day
    twice, the scope's (cta_owner_status, cta.status)."""
    return f"""
SELECT t.owner,
       SUM(CASE WHEN {WAITING} AND t.due_on < {{}} THEN 1 ELSE 0 END) AS overdue,
       SUM(CASE WHEN {WAITING} AND t.due_on = {{}} THEN 1 ELSE 0 END) AS due_today,
       COUNT(*) AS open
FROM cta t JOIN account a ON a.id = t.account
WHERE t.status <> 'closed'{cta_scope(csms)}
GROUP BY t.owner"""  # noqa: S608 - placeholders and constants only


def _pool_scope(csms: int | None) -> str:
    """A condition on a CTA `t`'s pool: one the CSMs are members of or manage (the CSM ids
    twice). Empty for everyone."""
    if csms is None:
        return ""
    ids = marks(csms)
    return (
        f" AND (t.pool IN (SELECT pool FROM pool_member WHERE csm IN ({ids}))"  # noqa: S608
        f" OR t.pool IN (SELECT id FROM pool WHERE manager IN ({ids})))"
    )


def unclaimed_sql(csms: int | None) -> str:
    """CTAs of a pool that nobody owns yet, not closed, as shown, most urgent first: of the
    pools the CSMs are members of or manage. Parameters: the scope's, the limit."""
    return (
        f"{CTA_VIEW} WHERE t.pool IS NOT NULL AND t.owner IS NULL AND t.status <> 'closed'"
        f"{_pool_scope(csms)} {_URGENT_FIRST} LIMIT {{}}"
    )


def unclaimed_count_sql(csms: int | None) -> str:
    """`n`, the CTAs of `unclaimed_sql`. Parameters: the scope's."""
    return (
        "SELECT COUNT(*) AS n FROM cta t WHERE t.pool IS NOT NULL AND t.owner IS NULL "  # noqa: S608
        f"AND t.status <> 'closed'{_pool_scope(csms)}"
    )


def detractors_sql(csms: int | None) -> str:
    """Detractors' production answers in a period of the accounts in scope, newest first: id, score,
    comment, answered_at, role (as they answered), user_email, user_external_id,
    user_traits, user_role, account_external_id, account_name, arr_cents, currency.
    Parameters: the period's start, its end, the scope's, the limit (response.answered_at)."""
    return f"""
SELECT r.id, r.score, r.comment, r.answered_at, r.role,
       u.email AS user_email, u.external_id AS user_external_id, u.traits AS user_traits,
       u.role AS user_role,
       a.external_id AS account_external_id, a.name AS account_name, a.arr_cents, a.currency
FROM response r
JOIN account a ON a.id = r.account
LEFT JOIN end_user u ON u.id = r.end_user
WHERE r.answered_at >= {{}} AND r.answered_at < {{}} AND {is_detractor_sql("r.score")}
  AND r.environment = 'production'
{account_scope(csms)}
ORDER BY r.answered_at DESC, r.id DESC
LIMIT {{}}"""  # noqa: S608 - placeholders and feedback.kernel.nps's fragments only


def detractor_count_sql_for(csms: int | None) -> str:
    """`n`, the answers of `detractors_sql`. Parameters: the start, the end, the scope's."""
    return f"""
SELECT COUNT(*) AS n FROM response r JOIN account a ON a.id = r.account
WHERE r.answered_at >= {{}} AND r.answered_at < {{}} AND {is_detractor_sql("r.score")}
  AND r.environment = 'production'
{account_scope(csms)}"""  # noqa: S608 - placeholders and feedback.kernel.nps's fragments only


def health_drops_sql(csms: int | None) -> str:
    """Live accounts in scope whose health snapshot of a day is in the red band while it was
    not 7 days before (`into_red`), or is at least some points lower: external_id, name,
    arr_cents, currency, csm_name, score, band, score_before, band_before, into_red; those
    into red first, then the largest drop. Parameters: the day 7 days before, the day, the
    points, the scope's (health_snapshot_day_csm for the day, health_snapshot_account_day
    for the day before)."""
    into_red = "(s.band = 'red' AND p.band <> 'red')"
    return f"""
SELECT a.external_id, a.name, a.arr_cents, a.currency, c.name AS csm_name,
       s.score, s.band, p.score AS score_before, p.band AS band_before,
       CASE WHEN {into_red} THEN 1 ELSE 0 END AS into_red
FROM health_snapshot s
JOIN account a ON a.id = s.account
JOIN health_snapshot p ON p.account = s.account AND p.day = {{}}
LEFT JOIN csm c ON c.id = a.csm
WHERE s.day = {{}} AND a.status <> 'churned'
  AND ({into_red} OR p.score - s.score >= {{}}){account_scope(csms)}
ORDER BY CASE WHEN {into_red} THEN 0 ELSE 1 END, s.score - p.score, a.external_id"""  # noqa: S608


def renewals_sql(csms: int | None) -> str:
    """Live production accounts in scope renewing in a window, the soonest first, with their
    production answers in [since, until) (counted for the listed accounts only): id,
    external_id, name, arr_cents, currency, renewal_date, csm_name, responses, promoters,
    detractors.
    Parameters: the window's first day, its last, the scope's, the limit, the offset,
    since, until (account_renewal_date, response_account_answered_at)."""
    return f"""
SELECT a.id, a.external_id, a.name, a.arr_cents, a.currency, a.renewal_date,
       c.name AS csm_name,
       COUNT(r.id) AS responses,
       {promoter_count_sql("r.score")} AS promoters,
       {detractor_count_sql("r.score")} AS detractors
FROM (
    SELECT a.id, a.external_id, a.name, a.arr_cents, a.currency, a.renewal_date, a.csm
    FROM account a
    WHERE a.status <> 'churned' AND a.environment = 'production'
      AND a.renewal_date >= {{}} AND a.renewal_date <= {{}}
    {account_scope(csms)}
    ORDER BY a.renewal_date, a.id
    LIMIT {{}} OFFSET {{}}
) a
LEFT JOIN csm c ON c.id = a.csm
LEFT JOIN response r ON r.account = a.id AND r.answered_at >= {{}} AND r.answered_at < {{}}
    AND r.environment = 'production'
GROUP BY a.id, a.external_id, a.name, a.arr_cents, a.currency, a.renewal_date, c.name
ORDER BY a.renewal_date, a.id"""  # noqa: S608 - placeholders and feedback.kernel.nps's fragments only


def renewal_count_sql(csms: int | None) -> str:
    """`n`, the accounts of `renewals_sql`. Parameters: the first day, the last, the
    scope's (account_renewal_date)."""
    return (
        "SELECT COUNT(*) AS n FROM account a WHERE a.status <> 'churned' "  # noqa: S608
        "AND a.environment = 'production' "
        f"AND a.renewal_date >= {{}} AND a.renewal_date <= {{}}{account_scope(csms)}"
    )


def _dark_where(csms: int | None) -> str:
    """Live production accounts `a` in scope made before a moment with no production answer
    and no user seen since (the going-dark rule's definition, feedback/ctas/rules.py).
    Parameters: the moment three times, the scope's (response_account_answered_at,
    end_user_account)."""
    return f"""
WHERE a.status <> 'churned' AND a.environment = 'production' AND a.created_at < {{}}
  AND NOT EXISTS (SELECT 1 FROM response r WHERE r.account = a.id AND r.answered_at >= {{}}
                  AND r.environment = 'production')
  AND NOT EXISTS (SELECT 1 FROM end_user u WHERE u.account = a.id AND u.last_seen_at >= {{}})
  {account_scope(csms)}"""  # noqa: S608 - placeholders only


def going_dark_sql(csms: int | None) -> str:
    """The accounts of `_dark_where`, the largest ARR first: id, external_id, name,
    arr_cents, currency, csm_name, last_answer, last_seen, cta (the id of its going-dark
    CTA not closed, if any; cta_one_open), worked out for the listed accounts only.
    Parameters: those of `_dark_where`, the limit, the offset."""
    return f"""
SELECT a.id, a.external_id, a.name, a.arr_cents, a.currency, c.name AS csm_name,
       (SELECT MAX(r.answered_at) FROM response r
        WHERE r.account = a.id AND r.environment = 'production') AS last_answer,
       (SELECT MAX(u.last_seen_at) FROM end_user u WHERE u.account = a.id) AS last_seen,
       (SELECT MIN(t.id) FROM cta t
        WHERE t.account = a.id AND t.type = 'going_dark' AND t.status <> 'closed') AS cta
FROM (
    SELECT a.id, a.external_id, a.name, a.arr_cents, a.currency, a.csm FROM account a
    {_dark_where(csms)}
    ORDER BY CASE WHEN a.arr_cents IS NULL THEN 1 ELSE 0 END, a.arr_cents DESC, a.id
    LIMIT {{}} OFFSET {{}}
) a
LEFT JOIN csm c ON c.id = a.csm
ORDER BY CASE WHEN a.arr_cents IS NULL THEN 1 ELSE 0 END, a.arr_cents DESC, a.id"""  # noqa: S608


def going_dark_count_sql(csms: int | None) -> str:
    """`n`, the accounts of `_dark_where`. Parameters: those of `_dark_where`."""
    return f"SELECT COUNT(*) AS n FROM account a {_dark_where(csms)}"  # noqa: S608


def team_names_sql(csms: int | None) -> str:
    """`id, name, email, kind` of the active CSMs in scope (all of them for everyone), by
    name. Parameters: the scope's (primary key)."""
    where = "" if csms is None else f" AND id IN ({marks(csms)})"
    return f"SELECT id, name, email, kind FROM csm WHERE active = {{}}{where} ORDER BY name, id"  # noqa: S608
