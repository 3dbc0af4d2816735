"""Every SQL statement of the pools domain: which pool serves an account, claiming a CTA,
the SLA job's assignments and escalations, and the report.

Statements use Piccolo's `{}` placeholders. Indexes: `pool_member_once` (unique pool, csm),
`cta_pool_open` (pool, created_at where pooled and not closed), `cta_owner_status`, and the
primary keys.
"""

from __future__ import annotations

from feedback.db import Statement

# ------------------------------------------------------------------- who serves an account

# Active pools in the order they are tried: id, name, slack_channel, meeting_url, manager,
# audience (JSON) (a full scan of the small pool table).
ACTIVE_POOLS = Statement("""
SELECT id, name, slack_channel, meeting_url, manager, audience FROM pool
WHERE active ORDER BY id""")


def accounts_for_audience_sql(accounts: int) -> str:
    """What an audience filter looks at of `accounts` accounts (their ids are the
    parameters): id, plan, industry, company_size, status, currency, traits (JSON), and
    `dedicated` (whether an active dedicated CSM serves it). Primary keys."""
    marks = ", ".join("{}" for _ in range(accounts))
    return f"""
SELECT a.id, a.plan, a.industry, a.company_size, a.status, a.currency, a.traits,
       CASE WHEN c.active AND c.kind = 'dedicated' THEN 1 ELSE 0 END AS dedicated
FROM account a LEFT JOIN csm c ON c.id = a.csm
WHERE a.id IN ({marks})"""  # noqa: S608 - placeholders only


# -------------------------------------------------------------------------------- claiming

# `id, status` when the CSM now owns the CTA: it was unowned, pooled, not closed, and the CSM is an
# active member of its pool; no row otherwise (primary key, pool_member_once). Parameters:
# csm, claimed_at, updated_at, cta id, csm.
CLAIM = Statement("""
UPDATE cta SET owner = {}, claimed_at = {}, version = version + 1, updated_at = {}
WHERE id = {} AND owner IS NULL AND pool IS NOT NULL AND status <> 'closed'
  AND EXISTS (SELECT 1 FROM pool_member m JOIN csm c ON c.id = m.csm
              WHERE m.pool = cta.pool AND m.csm = {} AND c.active)
RETURNING id, status""")

# `1` when the CSM is an active member of the pool (pool_member_once). Parameters: pool, csm.
IS_MEMBER = Statement("""
SELECT 1 AS member FROM pool_member m JOIN csm c ON c.id = m.csm
WHERE m.pool = {} AND m.csm = {} AND c.active""")

# ------------------------------------------------------------------------- the SLA job

# Active pools with open pooled CTAs created before a moment: id (cta_pool_open).
POOLS_WITH_WORK = Statement("""
SELECT DISTINCT p.id FROM pool p JOIN cta t ON t.pool = p.id
WHERE p.active AND t.status <> 'closed' AND t.created_at <= {}
ORDER BY p.id""")

_POOL = """
SELECT id, name, rule, manager, claim_sla_minutes, escalate_sla_minutes, next_member,
       timezone, workday_start_hour, workday_end_hour
FROM pool WHERE id = {}"""
# One pool's SLA settings, its row locked on PostgreSQL so that two workers handle one pool
# one after the other (primary key).
LOCK_POOL = Statement(_POOL, postgres=_POOL + " FOR UPDATE")

# The open CTAs of a pool created before a moment, oldest first: id, owner, status,
# created_at, escalated_at, arr_cents (of the account) (cta_pool_open). Parameters: pool,
# created before.
POOL_OPEN_CTAS = Statement("""
SELECT t.id, t.owner, t.status, t.created_at, t.escalated_at, a.arr_cents
FROM cta t JOIN account a ON a.id = t.account
WHERE t.pool = {} AND t.pool IS NOT NULL AND t.status <> 'closed' AND t.created_at <= {}
ORDER BY t.created_at, t.id""")

# A pool's active members in their fixed order (the round robin's), with their open CTAs
# and the ARR of those CTAs' accounts: csm, name, open_ctas, open_arr_cents
# (pool_member_once, cta_owner_status). Parameter: pool.
MEMBER_LOAD = Statement("""
SELECT m.csm, c.name,
       (SELECT COUNT(*) FROM cta t WHERE t.owner = m.csm AND t.status <> 'closed')
           AS open_ctas,
       (SELECT COALESCE(SUM(a.arr_cents), 0) FROM cta t JOIN account a ON a.id = t.account
        WHERE t.owner = m.csm AND t.status <> 'closed') AS open_arr_cents
FROM pool_member m JOIN csm c ON c.id = m.csm
WHERE m.pool = {} AND c.active
ORDER BY m.id""")

# `id` when the CTA, still unowned and not closed, is now the member's (primary key).
# Parameters: owner, claimed_at, updated_at, id.
ASSIGN = Statement("""
UPDATE cta SET owner = {}, claimed_at = {}, version = version + 1, updated_at = {}
WHERE id = {} AND owner IS NULL AND status <> 'closed'
RETURNING id""")

# Nothing; the round robin's cursor after an assignment. Parameters: next_member, pool.
SET_CURSOR = Statement("UPDATE pool SET next_member = {} WHERE id = {}")

# `id` when the CTA, still open (nobody acknowledged, snoozed or closed it) and not
# escalated, is now escalated (primary key). Parameters: escalated_at, updated_at, id.
ESCALATE = Statement("""
UPDATE cta SET escalated_at = {}, version = version + 1, updated_at = {}
WHERE id = {} AND status = 'open' AND escalated_at IS NULL
RETURNING id""")

# ------------------------------------------------------------------------------ the report

# Pooled CTAs created in a window, with their pool and owner: id, pool, pool_name, owner,
# owner_name, status, created_at, claimed_at, closed_at, escalated_at, and `how` the owner
# came ("claim", "assign" or NULL) from the history (cta_pool_open for the open ones, the
# primary keys). Parameters: created from, created before.
POOLED_CTAS = Statement("""
SELECT t.id, t.pool, p.name AS pool_name, t.owner, c.name AS owner_name, t.status,
       t.created_at, t.claimed_at, t.closed_at, t.escalated_at,
       (SELECT e.action FROM cta_event e WHERE e.cta = t.id AND e.action IN ('claim', 'assign')
        ORDER BY e.id LIMIT 1) AS how
FROM cta t JOIN pool p ON p.id = t.pool LEFT JOIN csm c ON c.id = t.owner
WHERE t.pool IS NOT NULL AND t.created_at >= {} AND t.created_at < {}
ORDER BY t.pool, t.id""")

# Open CTAs per pool and owner now, whenever created: pool, owner, n (cta_pool_open).
OPEN_LOAD = Statement("""
SELECT t.pool, t.owner, COUNT(*) AS n FROM cta t
WHERE t.pool IS NOT NULL AND t.status <> 'closed'
GROUP BY t.pool, t.owner""")
