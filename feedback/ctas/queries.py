"""Every SQL statement of the CTA domain: raising CTAs from signals (one at a time, and the
answer rule runner's set-based PostgreSQL statements), a CTA's history, reading CTAs as they
are shown, the answer rules' queue and the time-driven rules.

Statements use Piccolo's `{}` placeholders; builders return SQL text from whitelisted pieces
and say which parameters to bind, in order. Indexes: `cta_one_open` (unique account, type,
reason where not closed), `cta_owner_status` (owner, status), `cta_account`, `cta_event_cta`,
`rules_queue_due`, `rules_queue_response` (unique), `account_renewal_date`,
`response_account_answered_at` (account, answered_at), `end_user_account`,
and the primary keys.
"""

from __future__ import annotations

from feedback.db import Statement
from feedback.kernel.nps import detractor_count_sql, promoter_count_sql

# ---------------------------------------------------------------- raising CTAs from signals

# `owner` (the account's CSM) and `active` (whether that CSM is active) of one account
# (primary keys of account and csm).
ACCOUNT_OWNER = Statement("""
SELECT a.csm AS owner, c.active AS active FROM account a LEFT JOIN csm c ON c.id = a.csm
WHERE a.id = {}""")

# `id` of the new open CTA, or no row when one is open already for the account, type and
# reason (the partial unique index cta_one_open). Parameters: type, reason, detail,
# priority, account, owner, due_on, trigger (JSON text), created_at, updated_at.
INSERT_CTA = Statement("""
INSERT INTO cta (type, reason, detail, priority, account, owner, due_on, status,
                 snoozed_until, snooze_reason, close_reason, trigger, version,
                 created_at, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, 'open', NULL, '', '', {}, 1, {}, {})
ON CONFLICT (account, type, reason) WHERE status <> 'closed' DO NOTHING
RETURNING id""")

# The open CTA of an account, type and reason: id, status, snoozed_until, priority, detail,
# version (cta_one_open).
OPEN_CTA = Statement("""
SELECT id, status, snoozed_until, priority, detail, version FROM cta
WHERE account = {} AND type = {} AND reason = {} AND status <> 'closed'""")

# Nothing; a new signal's detail, trigger and priority on its CTA, as a new version
# (primary key). Parameters: detail, trigger (JSON text), priority, updated_at, id.
UPDATE_FROM_SIGNAL = Statement("""
UPDATE cta SET detail = {}, trigger = {}, priority = {}, version = version + 1, updated_at = {}
WHERE id = {}""")

# Nothing; one row of a CTA's history. Parameters: cta, at, actor, source, action,
# from_status, to_status, note, data (JSON text).
INSERT_EVENT = Statement("""
INSERT INTO cta_event (cta, at, actor, source, action, from_status, to_status, note, data)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})""")

# -- many CTAs at once (the answer rule runner on PostgreSQL)
#
# The same outcome as `raise_signal` for each group of signals, in four statements for the
# whole batch instead of about seven per CTA: a round trip costs more client CPU than these
# statements cost the server. Groups come sorted by (account, type, reason) and every
# statement takes its row locks in that order, so that two runners never deadlock.

# each group's latest signal, at the group's most urgent priority, as parallel arrays:
# account, type, reason, detail, priority, due_on, trigger (JSON text), single (one signal)
_SIGNALS = """unnest({}::int[], {}::text[], {}::text[], {}::text[], {}::int[], {}::date[],
                  {}::text[], {}::bool[]) WITH ORDINALITY
    AS g(account, type, reason, detail, priority, due_on, trigger, single, n)"""

# PostgreSQL only: `id, account, type, reason` of each CTA created for a group that had
# none open (cta_one_open). A pooled account's CTA (feedback/pools/audience.py) gets its
# pool and no owner. Parameters: the default owner, created_at, updated_at, the arrays of
# `_SIGNALS`, then parallel arrays of the pooled accounts and their pools.
CREATE_CTAS = Statement(
    "-- PostgreSQL only",
    postgres="""
INSERT INTO cta (type, reason, detail, priority, account, owner, due_on, status,
                 snoozed_until, snooze_reason, close_reason, trigger, version,
                 created_at, updated_at, pool)
SELECT g.type, g.reason, g.detail, g.priority, g.account,
       CASE WHEN sp.pool IS NOT NULL THEN NULL WHEN c.active THEN a.csm ELSE {}::int END,
       g.due_on, 'open', NULL, '', '', g.trigger::jsonb, 1, {}, {}, sp.pool
FROM @signals
JOIN account a ON a.id = g.account
LEFT JOIN csm c ON c.id = a.csm
LEFT JOIN unnest({}::int[], {}::int[]) AS sp(account, pool) ON sp.account = g.account
ORDER BY g.n
ON CONFLICT (account, type, reason) WHERE status <> 'closed' DO NOTHING
RETURNING id, account, type, reason""".replace("@signals", _SIGNALS),
)

# PostgreSQL only: the open CTA of each remaining group, locked in order, then changed
# unless the signal is the same one again (as in `raise_signal`): `id, account, type,
# reason, status, snoozed_until, changes` (whether it was changed). cta_one_open.
# Parameters: the arrays of `_SIGNALS`, then updated_at.
UPDATE_CTAS = Statement(
    "-- PostgreSQL only",
    postgres="""
WITH target AS (
    SELECT t.id, t.account, t.type, t.reason, t.status, t.snoozed_until,
           g.detail, g.trigger, g.priority,
           NOT (g.single AND t.detail = g.detail AND t.priority <= g.priority) AS changes
    FROM @signals
    JOIN cta t ON t.account = g.account AND t.type = g.type AND t.reason = g.reason
    WHERE t.status <> 'closed'
    ORDER BY g.n
    FOR UPDATE OF t
),
changed AS (
    UPDATE cta SET detail = target.detail, trigger = target.trigger::jsonb,
                   priority = LEAST(cta.priority, target.priority),
                   version = cta.version + 1, updated_at = {}
    FROM target WHERE cta.id = target.id AND target.changes
    RETURNING cta.id
)
SELECT id, account, type, reason, status, snoozed_until, changes FROM target""".replace(
        "@signals", _SIGNALS
    ),
)

# PostgreSQL only: nothing; many history rows of the rules at once. Parameters: at, then
# arrays of cta, actor, action, from_status, to_status, note, data (JSON text).
INSERT_EVENTS = Statement(
    "-- PostgreSQL only",
    postgres="""
INSERT INTO cta_event (cta, at, actor, source, action, from_status, to_status, note, data)
SELECT e.cta, {}, e.actor, 'rule', e.action, e.from_status, e.to_status, e.note, e.data::jsonb
FROM unnest({}::int[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[])
    AS e(cta, actor, action, from_status, to_status, note, data)""",
)

# ------------------------------------------------------------------------ changing CTAs

# Nothing; the Slack message that shows a CTA from now on: channel, ts, then the CTA's id
# (primary key).
SET_MESSAGE = Statement("UPDATE cta SET slack_channel = {}, slack_ts = {} WHERE id = {}")

# ------------------------------------------------------------------------ reading CTAs

# A CTA as it is shown (API, pages, Slack, Today's lists): its columns, its account's, its
# owner's and its pool's (the account's health comes from the health domain,
# `feedback.health.reads.newest_scores`).
CTA_VIEW = """
SELECT t.id, t.type, t.reason, t.detail, t.priority, t.account AS account_id,
       t.owner AS owner_id, t.due_on, t.status, t.snoozed_until, t.snooze_reason,
       t.close_reason, t.trigger, t.version, t.slack_channel, t.slack_ts,
       t.created_at, t.updated_at, t.closed_at,
       t.pool AS pool_id, p.name AS pool_name, p.slack_channel AS pool_channel,
       t.claimed_at, t.escalated_at, t.outcome, c.meeting_url AS owner_meeting_url,
       a.external_id AS account_external_id, a.name AS account_name, a.arr_cents,
       a.currency, a.plan, a.renewal_date, a.csm AS account_csm,
       c.name AS owner_name, c.email AS owner_email, c.slack_user_id AS owner_slack_user,
       c.manager AS owner_manager, c.slack_channel AS owner_channel
FROM cta t
JOIN account a ON a.id = t.account
LEFT JOIN csm c ON c.id = t.owner
LEFT JOIN pool p ON p.id = t.pool
"""

# One CTA as shown (primary key).
CTA_BY_ID = Statement(CTA_VIEW + "WHERE t.id = {}")


def list_ctas_sql(
    *,
    csm_scope: bool,
    active: bool,
    status: bool,
    owners: int | None,
    account: bool,
    type_: bool,
    pools: int = 0,
) -> str:
    """CTAs as shown, most urgent first, then by due date: those of one CSM's scope (owned
    by them, of their accounts or of their `pools` pools; `csm_scope`, the CSM's id twice
    then the pools' ids), active ones (not closed) or of one `status`, of `owners` owners
    (their ids), of one `account`, of one `type_`, then the limit. Parameters in that order.
    Indexes: cta_owner_status, cta_account, cta_pool_open."""
    where = []
    if csm_scope:
        in_pools = f" OR t.pool IN ({', '.join('{}' for _ in range(pools))})" if pools else ""
        where.append(f"(t.owner = {{}} OR a.csm = {{}}{in_pools})")
    if active:
        where.append("t.status <> 'closed'")
    elif status:
        where.append("t.status = {}")
    if owners is not None:
        where.append(f"t.owner IN ({', '.join('{}' for _ in range(owners))})")
    if account:
        where.append("t.account = {}")
    if type_:
        where.append("t.type = {}")
    condition = " AND ".join(where) or "1 = 1"
    return f"{CTA_VIEW} WHERE {condition} ORDER BY t.priority, t.due_on, t.id LIMIT {{}}"


# ----------------------------------------------------------------------- the answer rules

# `response` of one answer whose time for the rules has come, if any (rules_queue_due): the
# runner's plain read while idle, without a write lock.
ANY_ANSWER_DUE = Statement("SELECT response FROM rules_queue WHERE due <= {} LIMIT 1")

_ANSWERS_DUE = """
SELECT r.id, r.score, r.comment, r.answered_at, r.account, r.arr_cents,
       u.external_id AS user_external_id, u.email AS user_email, r.role, q.due, r.environment
FROM rules_queue q
JOIN response r ON r.id = q.response
LEFT JOIN end_user u ON u.id = r.end_user
WHERE q.due <= {} ORDER BY q.due LIMIT {}"""
# Up to a limit of the answers whose time has come, oldest first, with their user: id,
# score, comment, answered_at, account, arr_cents, user_external_id, user_email, role, due
# (later than answered_at when queued again: a comment, a changed score), environment (the
# rules act on production answers only and take the others off the queue) (rules_queue_due).
# On PostgreSQL several runners (processes) split the queue instead of waiting on each other;
# only the small queue rows are locked, never the answers themselves.
ANSWERS_DUE = Statement(_ANSWERS_DUE, postgres=_ANSWERS_DUE + " FOR UPDATE OF q SKIP LOCKED")

# `n` answers waiting for the rules and the `oldest` one's due time (for /metrics).
ANSWERS_AWAITING = Statement("SELECT count(*) AS n, min(due) AS oldest FROM rules_queue")

# -- changed scores: the CTAs raised for an answer follow its last score


def rule_cta_events_sql(accounts: int) -> str:
    """The history of the risk and advocacy CTAs not closed of `accounts` accounts (their
    ids are the parameters), each CTA's events in order: cta, type, reason, status,
    version, detail, priority, trigger (JSON), actor, action, data (JSON). Through it the
    answer rules know which answers (`data.response_id` of the rule's events) a CTA
    carries and at what score. Indexes: cta_one_open, cta_event_cta."""
    marks = ", ".join("{}" for _ in range(accounts))
    return f"""
SELECT t.id AS cta, t.type, t.reason, t.status, t.version, t.detail, t.priority, t.trigger,
       e.actor, e.action, e.data
FROM cta t
JOIN cta_event e ON e.cta = t.id
WHERE t.account IN ({marks}) AND t.status <> 'closed' AND t.type IN ('risk', 'advocacy')
ORDER BY t.id, e.id"""  # noqa: S608 - placeholders only


def answers_by_id_sql(answers: int) -> str:
    """Answers by id (`answers` of them, their ids are the parameters), as `ANSWERS_DUE`
    gives them: id, score, comment, answered_at, account, arr_cents, user_external_id,
    user_email, role (primary key of response)."""
    marks = ", ".join("{}" for _ in range(answers))
    return f"""
SELECT r.id, r.score, r.comment, r.answered_at, r.account, r.arr_cents,
       u.external_id AS user_external_id, u.email AS user_email, r.role
FROM response r
LEFT JOIN end_user u ON u.id = r.end_user
WHERE r.id IN ({marks})"""  # noqa: S608 - placeholders only


# `id` of the CTA when it was still open at the version read and is now set to what its
# answers call for, as a new version; no row when someone changed it since (primary key).
# Parameters: detail, trigger (JSON text), priority, updated_at, id, version read.
SET_FROM_ANSWERS = Statement("""
UPDATE cta SET detail = {}, trigger = {}, priority = {}, version = version + 1, updated_at = {}
WHERE id = {} AND status = 'open' AND version = {}
RETURNING id""")

# ------------------------------------------------------------------ the time-driven rules

# Live production accounts renewing in a window, with their production answers since a
# moment: id,
# renewal_date, responses, promoters, detractors (0 without answers). Parameters: since, the
# window's first day, its last. Indexes: account_renewal_date, response_account_answered_at.
RENEWING_ACCOUNTS = Statement(
    f"""
SELECT a.id, a.renewal_date,
       COUNT(r.id) AS responses,
       {promoter_count_sql("r.score")} AS promoters,
       {detractor_count_sql("r.score")} AS detractors
FROM account a
LEFT JOIN response r ON r.account = a.id AND r.answered_at >= {{}}
    AND r.environment = 'production'
WHERE a.status <> 'churned' AND a.environment = 'production' AND a.renewal_date IS NOT NULL
  AND a.renewal_date >= {{}} AND a.renewal_date <= {{}}
GROUP BY a.id, a.renewal_date
ORDER BY a.id"""  # noqa: S608 - the interpolated pieces are feedback.kernel.nps's fragments
)

# Live production accounts and their latest moments: id, last_answer (production: a test on
# a staging key is no sign of life), last_seen (of their users), created_at
# (response_account_answered_at, end_user_account).
ACCOUNT_ACTIVITY = Statement("""
SELECT a.id,
       (SELECT MAX(r.answered_at) FROM response r
        WHERE r.account = a.id AND r.environment = 'production') AS last_answer,
       (SELECT MAX(u.last_seen_at) FROM end_user u WHERE u.account = a.id) AS last_seen,
       a.created_at
FROM account a
WHERE a.status <> 'churned' AND a.environment = 'production'""")


def live_accounts_sql(accounts: int) -> str:
    """`id, arr_cents` of those of `accounts` accounts (their ids are the parameters) that
    have not churned and are production's (the health-alert rule's candidates). Primary
    key."""
    marks = ", ".join("{}" for _ in range(accounts))
    return (
        "SELECT id, arr_cents FROM account "  # noqa: S608
        f"WHERE status <> 'churned' AND environment = 'production' AND id IN ({marks})"
    )


# ------------------------------------------------------------------ pooled specialists

# Nothing; the pool serving a new CTA's account (feedback/pools/audience.py), which leaves
# it unowned until a member claims it (primary key). Parameters: pool, id.
SET_POOL = Statement("UPDATE cta SET pool = {}, owner = NULL WHERE id = {}")

# ------------------------------------------------------------------ closing the loop

# `id` of another CTA not closed of an account, type and reason (a closed CTA reopens only
# when there is none: cta_one_open). Parameters: account, type, reason, the CTA's own id.
OTHER_OPEN_CTA = Statement("""
SELECT id FROM cta
WHERE account = {} AND type = {} AND reason = {} AND status <> 'closed' AND id <> {}""")


def detractor_ctas_sql(*, sqlite: bool, csm_scope: bool, date_from: bool, date_to: bool) -> str:
    """The risk CTAs an answer raised (detractor CTAs), created in a period: id, account_id,
    account_external_id, account_name, owner_id, owner_name, owner_manager, manager_name,
    pool_id, pool_name, status, outcome, created_at, closed_at, `withdrawn` (1 when the answer
    rules closed it last: the person changed their score; nobody closed a loop), and the
    account's first production answer after the close: next_score, next_answered_at. Parameters: the
    CSM's id twice (`csm_scope`: owned by them or of their accounts), from, to (created_at,
    from inclusive, to exclusive). Indexes: cta_account, cta_event_cta,
    response_account_answered_at. `sqlite`: the SQLite text (JSON read with json_extract)."""
    kind = "json_extract(t.trigger, '$.kind')" if sqlite else "t.trigger ->> 'kind'"
    where = ["t.type = 'risk'", f"{kind} = 'response'"]
    if csm_scope:
        where.append("(t.owner = {} OR a.csm = {})")
    if date_from:
        where.append("t.created_at >= {}")
    if date_to:
        where.append("t.created_at < {}")
    return f"""
SELECT t.id, t.account AS account_id, a.external_id AS account_external_id,
       a.name AS account_name, t.owner AS owner_id, c.name AS owner_name,
       c.manager AS owner_manager, m.name AS manager_name,
       t.pool AS pool_id, p.name AS pool_name, t.status, t.outcome, t.created_at, t.closed_at,
       CASE WHEN t.status = 'closed' AND t.outcome IS NULL AND (
           SELECT e.source FROM cta_event e WHERE e.cta = t.id AND e.action = 'close'
           ORDER BY e.id DESC LIMIT 1) = 'rule' THEN 1 ELSE 0 END AS withdrawn,
       n.score AS next_score, n.answered_at AS next_answered_at
FROM cta t
JOIN account a ON a.id = t.account
LEFT JOIN csm c ON c.id = t.owner
LEFT JOIN csm m ON m.id = c.manager
LEFT JOIN pool p ON p.id = t.pool
LEFT JOIN response n ON n.id = (
    SELECT r.id FROM response r
    WHERE r.account = t.account AND t.closed_at IS NOT NULL AND r.answered_at > t.closed_at
      AND r.environment = 'production'
    ORDER BY r.answered_at, r.id LIMIT 1)
WHERE {" AND ".join(where)}
ORDER BY t.id"""  # noqa: S608 - placeholders only
