"""A pool's CTA in Slack: posted to the pool's channel with a Claim button; one owner when
two specialists click at once, and a polite refusal to the other; after the claim the card
shows the owner and the usual buttons; an assignment by the pool's rule @mentions the
assignee in the card's thread."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devtools.slack_standin import SlackStandIn
from feedback.accounts.models import CSM
from feedback.ctas.models import Cta
from feedback.outbox.delivery import Deliverer
from feedback.pools.sla import run_pool_sla
from feedback.settings import Settings
from tests.api.pools.helpers import pooled_book, raise_cta
from tests.support.slack import block_action, interaction, post_signed, slack_deliverer

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
POOL_CHANNEL = "#scale"


async def deliver_all(sender: Deliverer) -> None:
    for _ in range(20):
        if not (await sender.deliver_once()).sent:
            return
    raise AssertionError("the outbox never emptied")


def card(standin: SlackStandIn) -> tuple[str, list[dict[str, Any]]]:
    ((ts, message),) = [(t, m) for (c, t), m in standin.messages.items() if c == POOL_CHANNEL]
    return ts, message["blocks"]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    (actions,) = [block for block in blocks if block["type"] == "actions"]
    return [element["action_id"] for element in actions["elements"]]


async def specialists_on_slack() -> None:
    for email, user in (("sam@example.com", "USAM"), ("pat@example.com", "UPAT")):
        await CSM.update({CSM.slack_user_id: user}).where(CSM.email == email)


def claim(user: str, cta_id: int, ts: str) -> str:
    return interaction(
        block_action(
            user,
            {"action_id": "cta_claim", "type": "button", "value": f"{cta_id}:1"},
            channel=POOL_CHANNEL,
            ts=ts,
        )
    )


async def test_a_pools_cta_is_posted_to_its_channel_and_claimed_once(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await pooled_book()
    await specialists_on_slack()
    cta_id = await raise_cta("p1", now=MONDAY_9)
    sender = slack_deliverer(settings, clock=lambda: MONDAY_9 + timedelta(minutes=1))
    await deliver_all(sender)
    ts, blocks = card(standin)
    assert action_ids(blocks) == ["cta_claim", "cta_open_account"]
    assert "unclaimed, pool Scale team" in json.dumps(blocks)

    # two specialists click at once: one owner, the other told politely who was first
    answers = await asyncio.gather(
        post_signed(slack_client, claim("USAM", cta_id, ts)),
        post_signed(slack_client, claim("UPAT", cta_id, ts)),
    )
    assert [a.status_code for a in answers] == [200, 200]
    owner = (await Cta.select(Cta.owner).where(Cta.id == cta_id).first())["owner"]
    winner = await CSM.select(CSM.name, CSM.slack_user_id).where(CSM.id == owner).first()
    (refusal,) = standin.calls_to("chat.postEphemeral")
    assert refusal.args["user"] != winner["slack_user_id"]
    assert refusal.args["text"] == f"Already claimed by {winner['name']}"

    await deliver_all(sender)
    ts_after, blocks = card(standin)  # the same card, edited in the pool's channel
    assert ts_after == ts
    assert f"*Owner*\\n{winner['name']} (pool Scale team)" in json.dumps(blocks)
    assert action_ids(blocks)[:2] == ["cta_ack", "cta_snooze"]
    assert standin.replies_to(POOL_CHANNEL, ts)[0].startswith(f"Claimed by {winner['name']} · ")


async def test_an_assignment_by_the_pools_rule_mentions_the_assignee(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await pooled_book()
    await specialists_on_slack()
    await raise_cta("p1", now=MONDAY_9)
    later = MONDAY_9 + timedelta(hours=5)  # past the claim SLA of 4 working hours
    sender = slack_deliverer(settings, clock=lambda: later)
    await deliver_all(sender)
    assert await run_pool_sla(later) == 1
    await deliver_all(sender)
    ts, _ = card(standin)
    (reply,) = standin.replies_to(POOL_CHANNEL, ts)
    assert reply.startswith("Assigned to <@USAM> by the pool's rule (round robin) · ")
