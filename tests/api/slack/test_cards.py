"""A CTA's cards in Slack: a direct message is updated in the conversation Slack put it in
(not the user id it was sent to), and every card a CTA has is kept current; an earlier
owner's card says who has it now and loses its buttons."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devtools.slack_standin import SlackStandIn
from feedback.accounts.models import CSM
from feedback.ctas.actions import change_cta
from feedback.outbox.models import Outbox
from feedback.settings import Settings
from tests.support.factories import book
from tests.support.slack import (
    BOT_TOKEN,
    block_action,
    interaction,
    link_slack_users,
    only_cta,
    post_signed,
    slack_deliverer,
    widget_answer,
)


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(block["type"] == "actions" for block in blocks)


def card(standin: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    (blocks,) = [m["blocks"] for (c, _), m in standin.messages.items() if c == channel]
    return blocks


async def test_the_stand_in_refuses_an_update_naming_the_user_instead_of_the_conversation(
    standin: SlackStandIn,
) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=standin.api_url)
    posted = await client.chat_postMessage(channel="UANN", text="hello")
    assert posted["channel"] == "DANN"
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel="UANN", ts=posted["ts"], text="edited")
    assert refused.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as elsewhere:
        await client.chat_update(channel="C-OTHER", ts=posted["ts"], text="edited")
    assert elsewhere.value.response["error"] == "cant_update_message"
    assert (await client.chat_update(channel="DANN", ts=posted["ts"], text="edited"))["ok"]


async def test_a_cta_sent_as_a_direct_message_is_updated_in_its_conversation(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    # Ann has no channel: her CTAs come as direct messages
    await CSM.update({CSM.slack_channel: None}).where(CSM.email == "ann@example.com")
    await widget_answer(slack_client, 2)
    sender = slack_deliverer(settings)
    assert (await sender.deliver_once()).sent == 1
    (post,) = standin.calls_to("chat.postMessage")
    assert post.args["channel"] == "UANN"
    cta = await only_cta()
    assert cta["slack_channel"] == "DANN"
    (row,) = await Outbox.select(Outbox.channel, Outbox.slack_channel)
    assert (row["channel"], row["slack_channel"]) == ("UANN", "DANN")

    ack = block_action(
        "UANN",
        {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:{cta['version']}"},
        channel="DANN",
        ts=cta["slack_ts"],
    )
    assert (await post_signed(slack_client, interaction(ack))).status_code == 200
    assert (await sender.deliver_once()).sent == 1
    (update,) = standin.calls_to("chat.update", ok_only=False)
    assert update.status == 200 and update.args["channel"] == "DANN"
    assert update.args["ts"] == cta["slack_ts"]
    assert len(standin.calls_to("chat.postMessage")) == 1  # edited, not posted again
    assert "acknowledged" in json.dumps(standin.messages[("DANN", cta["slack_ts"])]["blocks"])
    assert await Outbox.count().where(Outbox.status == "dead") == 0


async def test_after_a_reassignment_every_card_is_kept_current(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    sender = slack_deliverer(settings)
    await sender.deliver_once()
    cta = await only_cta()
    assert has_buttons(card(standin, "C-ANN"))

    bob = await CSM.select(CSM.id).where(CSM.email == "bob@example.com").first()
    await change_cta(cta["id"], "reassign", actor="ann", source="web", owner_id=bob["id"])
    assert (await sender.deliver_once()).sent == 2
    # Bob's card has the buttons; Ann's says who has it now and has none
    assert has_buttons(card(standin, "C-BOB"))
    old = json.dumps(card(standin, "C-ANN"))
    assert not has_buttons(card(standin, "C-ANN")) and "Reassigned to Bob" in old

    # later changes reach both cards
    await change_cta(cta["id"], "acknowledge", actor="bob", source="web")
    assert (await sender.deliver_once()).sent == 2
    for channel in ("C-ANN", "C-BOB"):
        assert "acknowledged" in json.dumps(card(standin, channel))
    assert not has_buttons(card(standin, "C-ANN")) and has_buttons(card(standin, "C-BOB"))
    assert len(standin.calls_to("chat.postMessage")) == 2  # one card per channel

    # a click on a stale card refreshes every card
    stale = block_action(
        "UBOSS",
        {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"},
        channel="C-ANN",
    )
    updates = len(standin.calls_to("chat.update"))
    assert (await post_signed(slack_client, interaction(stale))).status_code == 200
    (note,) = standin.calls_to("chat.postEphemeral")
    assert "current state" in note.args["text"]
    assert (await sender.deliver_once()).sent == 2
    assert len(standin.calls_to("chat.update")) == updates + 2
