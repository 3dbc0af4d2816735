"""Claiming a pooled CTA: compare-and-set, one owner when two specialists click at once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from feedback.ctas.models import Cta, CtaEvent
from feedback.kernel.errors import Forbidden
from feedback.outbox.models import Outbox
from feedback.pools.claims import claim_cta
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_a_member_claims_an_unowned_cta() -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY)
    sam = await csm_id("sam@example.com")
    await Outbox.delete().where(Outbox.cta == cta_id)
    change = await claim_cta(
        cta_id, sam, actor="sam@example.com", source="web", now=MONDAY + timedelta(hours=1)
    )
    assert change.changed and change.outcome == "claim"
    assert change.cta.owner_id == sam and change.cta.owner_name == "Sam Specialist"
    assert change.cta.claimed_at == MONDAY + timedelta(hours=1)
    assert change.cta.version == 2
    events = await CtaEvent.select(CtaEvent.action, CtaEvent.actor, CtaEvent.data).where(
        CtaEvent.cta == cta_id
    )
    claim = [e for e in events if e["action"] == "claim"]
    assert len(claim) == 1 and claim[0]["actor"] == "sam@example.com"
    data = claim[0]["data"]
    assert (json.loads(data) if isinstance(data, str) else data) == {"owner": sam}
    # the card is queued again to show its owner
    assert await Outbox.count().where((Outbox.cta == cta_id) & (Outbox.kind == "cta")) == 1


async def test_a_second_claim_is_refused_politely_naming_the_first() -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY)
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    assert (await claim_cta(cta_id, sam, actor="sam", source="slack")).changed
    again = await claim_cta(cta_id, pat, actor="pat", source="slack")
    assert not again.changed
    assert again.outcome == "already_claimed"
    assert again.message == "Already claimed by Sam Specialist"
    assert again.cta.owner_id == sam
    mine = await claim_cta(cta_id, sam, actor="sam", source="slack")
    assert (mine.changed, mine.outcome) == (False, "already_yours")


async def test_someone_outside_the_pool_may_not_claim() -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY)
    with pytest.raises(Forbidden) as refused:
        await claim_cta(cta_id, await csm_id("ann@example.com"), actor="ann", source="web")
    assert refused.value.field == "csm"
    assert (await Cta.select(Cta.owner).where(Cta.id == cta_id).first())["owner"] is None


async def test_a_closed_cta_is_not_claimed() -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY)
    await Cta.update({Cta.status: "closed"}).where(Cta.id == cta_id)
    change = await claim_cta(cta_id, await csm_id("sam@example.com"), actor="s", source="web")
    assert (change.changed, change.outcome) == (False, "unchanged")


async def test_two_specialists_claiming_at_once_give_one_owner() -> None:
    await pooled_book()
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    for round_ in range(5):
        cta_id = await raise_cta("p1", reason=f"race {round_}", now=MONDAY)
        first, second = await asyncio.gather(
            claim_cta(cta_id, sam, actor="sam", source="slack"),
            claim_cta(cta_id, pat, actor="pat", source="slack"),
        )
        assert sorted([first.changed, second.changed]) == [False, True]
        winner, loser = (first, second) if first.changed else (second, first)
        assert loser.outcome == "already_claimed"
        assert loser.message == f"Already claimed by {winner.cta.owner_name}"
        row = await Cta.select(Cta.owner, Cta.version).where(Cta.id == cta_id).first()
        assert row["owner"] == winner.cta.owner_id and row["version"] == 2
        claims = await CtaEvent.count().where(
            (CtaEvent.cta == cta_id) & (CtaEvent.action == "claim")
        )
        assert claims == 1
