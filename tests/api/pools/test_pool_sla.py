"""The pools' SLA job with an injected clock: assignment by the rule after the claim SLA in
working time, escalation to the manager after the second SLA; idempotent, safe in two
workers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.ctas.actions import change_cta
from feedback.ctas.models import Cta, CtaEvent
from feedback.pools.claims import claim_cta
from feedback.pools.models import Pool
from feedback.pools.sla import run_pool_sla
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def events(cta_id: int, action: str) -> list[dict[str, Any]]:
    rows = await CtaEvent.select(CtaEvent.data, CtaEvent.actor).where(
        (CtaEvent.cta == cta_id) & (CtaEvent.action == action)
    )
    return [json.loads(r["data"]) if isinstance(r["data"], str) else r["data"] for r in rows]


async def cta(cta_id: int) -> dict[str, Any]:
    return (
        await Cta.select(Cta.owner, Cta.escalated_at, Cta.claimed_at, Cta.version)
        .where(Cta.id == cta_id)
        .first()
    )


async def test_an_unclaimed_cta_is_assigned_after_the_claim_sla_in_working_time() -> None:
    await pooled_book()  # claim SLA 240 working minutes, escalation 480 more
    cta_id = await raise_cta("p1", now=MONDAY_9)
    assert await run_pool_sla(MONDAY_9 + timedelta(minutes=239)) == 0
    assert (await cta(cta_id))["owner"] is None
    assert await run_pool_sla(MONDAY_9 + timedelta(minutes=240)) == 1
    sam = await csm_id("sam@example.com")
    assert (await cta(cta_id))["owner"] == sam  # round robin from the first member
    assert await events(cta_id, "assign") == [{"owner": sam, "rule": "round_robin"}]
    assert await run_pool_sla(MONDAY_9 + timedelta(minutes=241)) == 0  # idempotent


async def test_a_cta_raised_on_friday_evening_waits_for_monday() -> None:
    await pooled_book()
    friday_16 = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    cta_id = await raise_cta("p1", now=friday_16)
    assert await run_pool_sla(datetime(2026, 12, 14, 11, 59, tzinfo=UTC)) == 0  # 179 minutes
    assert await run_pool_sla(datetime(2026, 12, 14, 12, 0, tzinfo=UTC)) == 1
    assert (await cta(cta_id))["owner"] is not None


async def test_round_robin_alternates_and_keeps_its_cursor() -> None:
    pool = await pooled_book()
    ids = [await raise_cta("p1", reason=f"r{n}", now=MONDAY_9) for n in range(3)]
    await run_pool_sla(MONDAY_9 + timedelta(hours=5))
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    assert [(await cta(i))["owner"] for i in ids] == [sam, pat, sam]
    assert (await Pool.select(Pool.next_member).where(Pool.id == pool.id).first())[
        "next_member"
    ] == 1  # Pat is next
    later = await raise_cta("p2", now=MONDAY_9 + timedelta(hours=1))
    await run_pool_sla(MONDAY_9 + timedelta(hours=6))
    assert (await cta(later))["owner"] == pat


async def test_fewest_open_and_least_arr_pick_the_lightest_specialist() -> None:
    await pooled_book(rule="fewest_open")
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    busy = await raise_cta("p2", reason="busy", now=MONDAY_9)
    await claim_cta(busy, sam, actor="sam", source="web", now=MONDAY_9)
    waiting = await raise_cta("p1", now=MONDAY_9)
    await run_pool_sla(MONDAY_9 + timedelta(hours=5))
    assert (await cta(waiting))["owner"] == pat
    assert await events(waiting, "assign") == [{"owner": pat, "rule": "fewest_open"}]


async def test_least_arr_weighs_the_accounts_of_open_ctas() -> None:
    await pooled_book(rule="least_arr")
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    for n in range(2):  # Sam: two CTAs on a 100 account; Pat: one on a 2000 account
        small = await raise_cta("p1", reason=f"s{n}", now=MONDAY_9)
        await claim_cta(small, sam, actor="sam", source="web", now=MONDAY_9)
    large = await raise_cta("p2", reason="large", now=MONDAY_9)
    await claim_cta(large, pat, actor="pat", source="web", now=MONDAY_9)
    waiting = await raise_cta("p2", now=MONDAY_9)
    await run_pool_sla(MONDAY_9 + timedelta(hours=5))
    assert (await cta(waiting))["owner"] == sam


async def test_an_untouched_cta_escalates_to_the_manager_after_the_second_sla() -> None:
    await pooled_book()
    boss = await csm_id("boss@example.com")
    cta_id = await raise_cta("p1", now=MONDAY_9)
    await run_pool_sla(MONDAY_9 + timedelta(hours=4))  # assigned
    tuesday_12_59 = MONDAY_9 + timedelta(days=1, hours=3, minutes=59)
    assert await run_pool_sla(tuesday_12_59) == 0  # 719 working minutes
    assert await run_pool_sla(tuesday_12_59 + timedelta(minutes=1)) == 1
    row = await cta(cta_id)
    assert row["escalated_at"] is not None and row["owner"] == await csm_id("sam@example.com")
    assert await events(cta_id, "escalate") == [{"manager": boss, "untouched_minutes": 720}]
    assert await run_pool_sla(tuesday_12_59 + timedelta(days=3)) == 0  # once


async def test_an_acknowledged_cta_does_not_escalate() -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY_9)
    sam = await csm_id("sam@example.com")
    await claim_cta(cta_id, sam, actor="sam", source="web", now=MONDAY_9)
    await change_cta(cta_id, "acknowledge", actor="sam", source="web", now=MONDAY_9)
    assert await run_pool_sla(MONDAY_9 + timedelta(days=7)) == 0
    assert (await cta(cta_id))["escalated_at"] is None


async def test_two_workers_at_once_assign_each_cta_once() -> None:
    await pooled_book()
    ids = [await raise_cta("p1", reason=f"w{n}", now=MONDAY_9) for n in range(6)]
    later = MONDAY_9 + timedelta(hours=5)
    done = await asyncio.gather(run_pool_sla(later), run_pool_sla(later))
    assert sum(done) == 6
    for cta_id in ids:
        assert len(await events(cta_id, "assign")) == 1
    owners = [(await cta(i))["owner"] for i in ids]
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    assert owners == [sam, pat] * 3  # one cursor, whichever worker went first
