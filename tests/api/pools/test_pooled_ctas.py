"""A pooled account's CTA belongs to its pool and to nobody until a member claims it."""

from __future__ import annotations

from datetime import UTC, datetime

from feedback.ctas.reads import load_cta
from feedback.ctas.signals import Signal, raise_signal_groups
from feedback.db import write_transaction
from feedback.outbox.models import Outbox
from feedback.pools.audience import pool_for_account
from feedback.pools.services import update_pool
from tests.api.pools.helpers import account_id, csm_id, pooled_book, raise_cta

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_an_account_without_a_csm_in_the_audience_is_served_by_the_pool() -> None:
    pool = await pooled_book()
    served = await pool_for_account(await account_id("p1"))
    assert served is not None and served.id == pool.id
    assert (served.name, served.slack_channel, served.meeting_url) == (
        "Scale team",
        "#scale",
        "https://cal.example/scale",
    )
    assert served.manager == await csm_id("boss@example.com")
    assert await pool_for_account(await account_id("p3")) is None  # enterprise: not the audience
    assert await pool_for_account(await account_id("a1")) is None  # Ann, dedicated, serves it


async def test_an_inactive_pool_serves_nobody_and_the_first_matching_pool_wins() -> None:
    pool = await pooled_book(audience={})
    assert (await pool_for_account(await account_id("p3"))).id == pool.id  # {} matches all
    await update_pool(pool.id, {"active": False}, actor="t", source="t")
    assert await pool_for_account(await account_id("p3")) is None


async def test_a_pooled_accounts_cta_gets_the_pool_and_no_owner() -> None:
    pool = await pooled_book()
    cta = await load_cta(await raise_cta("p1", now=MONDAY))
    assert cta is not None
    assert (cta.pool_id, cta.pool_name, cta.pool_channel) == (pool.id, "Scale team", "#scale")
    assert cta.owner_id is None and cta.claimed_at is None
    assert await Outbox.count() >= 1  # the card waits to go to the pool's channel

    dedicated = await load_cta(await raise_cta("a1", now=MONDAY))
    assert dedicated is not None
    assert dedicated.pool_id is None and dedicated.owner_id == await csm_id("ann@example.com")


async def test_the_batched_path_sets_the_pool_as_the_single_path_does() -> None:
    pool = await pooled_book()
    groups = [
        [Signal(await account_id(e), "risk", "Batch", "d", 2, None, {"kind": "x"})]
        for e in ("a1", "p1", "p3")
    ]
    groups.sort(key=lambda g: (g[0].account_id, g[0].type, g[0].reason))
    async with write_transaction():
        await raise_signal_groups(groups, MONDAY)
    from feedback.ctas.models import Cta

    rows = {r["account"]: r for r in await Cta.select(Cta.account, Cta.owner, Cta.pool)}
    assert rows[await account_id("p1")]["pool"] == pool.id
    assert rows[await account_id("p1")]["owner"] is None
    assert rows[await account_id("a1")]["pool"] is None
    assert rows[await account_id("a1")]["owner"] == await csm_id("ann@example.com")
    assert rows[await account_id("p3")]["pool"] is None
