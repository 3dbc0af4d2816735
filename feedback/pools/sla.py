"""The pools' SLAs (a worker job): a pooled CTA nobody claimed within its pool's claim SLA is
assigned by the pool's rule; one still untouched (open: nobody acknowledged, snoozed or
closed it) after the escalation SLA more is escalated to the pool's manager. Both SLAs count
working minutes from the CTA's creation (feedback/pools/working_hours.py).

Each pool is handled in one transaction that holds its row (PostgreSQL) or the write lock
(SQLite), and every change is a compare-and-set, so two workers never assign one CTA twice
and a claim that lands meanwhile wins or loses cleanly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from feedback.ctas.history import record_event
from feedback.db import as_utc_datetime, write_transaction
from feedback.kernel.clock import utcnow
from feedback.outbox.enqueue import enqueue_cta_message
from feedback.pools import queries
from feedback.pools.models import AssignmentRule
from feedback.pools.working_hours import WorkingHours, working_minutes

log = logging.getLogger("feedback.pools")


@dataclass
class Member:
    csm: int
    name: str
    open_ctas: int
    open_arr_cents: int


def choose_member(rule: str, members: list[Member], cursor: int) -> tuple[Member, int]:
    """The member the rule picks and the round robin's next cursor. Ties go to the member
    who joined first."""
    if rule == AssignmentRule.fewest_open:
        order = min(range(len(members)), key=lambda n: (members[n].open_ctas, n))
        return members[order], cursor
    if rule == AssignmentRule.least_arr:
        order = min(range(len(members)), key=lambda n: (members[n].open_arr_cents, n))
        return members[order], cursor
    position = cursor % len(members)
    return members[position], position + 1


async def run_pool_sla(now: datetime | None = None) -> int:
    """Assign and escalate what is due in every pool; returns how many CTAs changed."""
    now = now or utcnow()
    changed = 0
    for row in await queries.POOLS_WITH_WORK.fetch(now):
        changed += await _pool_sla(row["id"], now)
    return changed


async def _pool_sla(pool_id: int, now: datetime) -> int:
    changed = 0
    async with write_transaction():
        pool = await queries.LOCK_POOL.first(pool_id)
        if pool is None:
            return 0
        hours = WorkingHours(
            pool["timezone"] or "UTC", pool["workday_start_hour"], pool["workday_end_hour"]
        )
        claim_sla, escalate_sla = pool["claim_sla_minutes"], pool["escalate_sla_minutes"]
        # working minutes never outrun wall-clock minutes: younger CTAs cannot be due
        older_than = now - timedelta(minutes=claim_sla)
        members: list[Member] | None = None
        cursor = pool["next_member"]
        for cta in await queries.POOL_OPEN_CTAS.fetch(pool_id, older_than):
            owner = cta["owner"]
            may_escalate = (
                pool["manager"] is not None
                and cta["status"] == "open"
                and cta["escalated_at"] is None
            )
            if owner is not None and not may_escalate:
                continue
            created = as_utc_datetime(cta["created_at"])
            assert created is not None
            worked = working_minutes(created, now, hours)
            if owner is None and worked >= claim_sla:
                if members is None:
                    members = [Member(**m) for m in await queries.MEMBER_LOAD.fetch(pool_id)]
                if not members:
                    log.warning("pool %s has no active members to assign CTA %s", pool_id, cta)
                else:
                    member, after = choose_member(pool["rule"], members, cursor)
                    if await _assign(cta, member, pool, now):
                        changed, cursor = changed + 1, after
            if may_escalate and worked >= claim_sla + escalate_sla:
                changed += await _escalate(cta["id"], pool, now)
        if cursor != pool["next_member"]:
            await queries.SET_CURSOR.run(cursor, pool_id)
    return changed


async def _assign(cta: dict[str, Any], member: Member, pool: dict[str, Any], now: datetime) -> bool:
    if not await queries.ASSIGN.fetch(member.csm, now, now, cta["id"]):
        return False  # claimed meanwhile
    member.open_ctas += 1
    member.open_arr_cents += cta["arr_cents"] or 0
    await record_event(
        cta["id"],
        f"pool {pool['name']}",
        "rule",
        "assign",
        cta["status"],
        cta["status"],
        now,
        note=(
            f"unclaimed for {pool['claim_sla_minutes']} working minutes: assigned to "
            f"{member.name} ({pool['rule'].replace('_', ' ')})"
        ),
        data={"owner": member.csm, "rule": pool["rule"]},
    )
    await enqueue_cta_message(cta["id"], now)
    return True


async def _escalate(cta_id: int, pool: dict[str, Any], now: datetime) -> int:
    if not await queries.ESCALATE.fetch(now, now, cta_id):
        return 0
    total = pool["claim_sla_minutes"] + pool["escalate_sla_minutes"]
    await record_event(
        cta_id,
        f"pool {pool['name']}",
        "rule",
        "escalate",
        "open",
        "open",
        now,
        note=f"untouched for {total} working minutes: escalated to the pool's manager",
        data={"manager": pool["manager"], "untouched_minutes": total},
    )
    await enqueue_cta_message(cta_id, now)
    return 1
