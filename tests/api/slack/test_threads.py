"""What a CTA's Slack card says, and the replies under it: the first post names who
answered, the score and the comment; every action leaves a short reply in the card's thread
(after the card, @mentioning a new owner); a worse answer on an open CTA adds a reply."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx

from devtools.slack_standin import SlackStandIn
from feedback.ctas.actions import change_cta
from feedback.kernel.clock import utcnow
from feedback.outbox.delivery import Deliverer
from feedback.outbox.models import Outbox
from feedback.settings import Settings
from tests.support.factories import book
from tests.support.slack import (
    block_action,
    interaction,
    link_slack_users,
    only_cta,
    post_signed,
    slack_deliverer,
    widget_answer,
)


async def deliver_all(sender: Deliverer) -> int:
    """Deliver until nothing is left to send (a reply waits for its card's round)."""
    sent = 0
    for _ in range(20):
        done = (await sender.deliver_once()).sent
        if not done:
            return sent
        sent += done
    raise AssertionError("the outbox never emptied")


def card_of(standin: SlackStandIn, channel: str) -> tuple[str, dict[str, Any]]:
    ((ts, message),) = [(t, m) for (c, t), m in standin.messages.items() if c == channel]
    return ts, message


def day(value: date) -> str:
    return f"{value.day} {value:%b}"


def replies(standin: SlackStandIn, channel: str) -> list[str]:
    ts, _ = card_of(standin, channel)
    return standin.replies_to(channel, ts)


async def test_the_first_post_names_who_answered_and_the_notification_says_the_score(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Exports time out every Monday")
    await deliver_all(slack_deliverer(settings))
    (post,) = standin.calls_to("chat.postMessage")
    # 2/10 at an account of $120,000.50 ARR: urgent
    assert post.args["text"] == "Urgent: detractor 2/10 at Acme — Exports time out every Monday"
    blocks = json.dumps(post.args["blocks"], ensure_ascii=False)
    assert "*Answered by*\\nu1@acme.test (admin)" in blocks
    assert "*Score*\\n2 / 10" in blocks
    assert "*Plan*\\npremium" in blocks and "*ARR*\\n$120,000" in blocks
    assert "*Renewal*\\n2027-01-31" in blocks
    assert "Exports time out every Monday" in blocks
    (actions,) = [b for b in post.args["blocks"] if b["type"] == "actions"]
    links = {e.get("action_id"): e.get("url") for e in actions["elements"]}
    assert links["cta_open_account"] == "https://feedback.example.com/accounts/a1"


async def test_an_answer_without_a_comment_yet_says_it_is_pending(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 5)
    await deliver_all(slack_deliverer(settings))
    (post,) = standin.calls_to("chat.postMessage")
    assert post.args["text"] == "High: detractor 5/10 at Acme — comment pending"
    assert "Comment pending" in json.dumps(post.args["blocks"])


async def test_an_acknowledgement_is_told_in_the_cards_thread_after_the_card(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Too slow")
    sender = slack_deliverer(settings)
    await deliver_all(sender)
    cta = await only_cta()
    ack = block_action(
        "UANN",
        {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:{cta['version']}"},
        ts=cta["slack_ts"],
    )
    assert (await post_signed(slack_client, interaction(ack))).status_code == 200
    assert await deliver_all(sender) == 2  # the card's update, then the reply
    (reply,) = replies(standin, "C-ANN")
    assert reply.startswith("Acknowledged by Ann · <!date^")
    order = [c.method for c in standin.calls if c.method.startswith("chat.")]
    assert order == ["chat.postMessage", "chat.update", "chat.postMessage"]
    (threaded,) = [c for c in standin.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert threaded.args["thread_ts"] == cta["slack_ts"] and threaded.args["channel"] == "C-ANN"


async def test_a_reply_waits_for_a_card_that_is_not_posted_yet(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Too slow")
    cta = await only_cta()
    # acted on before its card reached Slack (Slack was down, say)
    await change_cta(cta["id"], "note", actor="ann@example.com", source="web", reason="Called")
    await deliver_all(slack_deliverer(settings))
    posts = standin.calls_to("chat.postMessage")
    assert [bool(p.args.get("thread_ts")) for p in posts] == [False, True]
    assert replies(standin, "C-ANN") == [posts[1].args["text"]]
    assert posts[1].args["text"].startswith("Note by Ann: Called")


async def test_a_reassignment_mentions_the_new_owner_in_the_thread(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Too slow")
    sender = slack_deliverer(settings)
    await deliver_all(sender)
    cta = await only_cta()
    reassign = block_action(
        "UANN",
        {"action_id": "cta_reassign", "type": "users_select", "selected_user": "UBOB"},
    )
    reassign["actions"][0]["block_id"] = f"cta:{cta['id']}"
    assert (await post_signed(slack_client, interaction(reassign))).status_code == 200
    await deliver_all(sender)
    # the reply is under the card the CTA had (Ann's); Bob is notified by the mention
    (reply,) = replies(standin, "C-ANN")
    assert reply.startswith("Reassigned to <@UBOB> by Ann")


async def test_every_action_reads_well_in_the_thread(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Too slow")
    sender = slack_deliverer(settings)
    await deliver_all(sender)
    cta = await only_cta()
    ann = {"actor": "ann@example.com", "source": "web"}
    today = utcnow().date()
    due, until = today + timedelta(days=14), today + timedelta(days=6)
    await change_cta(cta["id"], "set_due", due_on=due, **ann)
    await change_cta(cta["id"], "snooze", snooze_until=until, reason="waiting on their IT", **ann)
    await change_cta(cta["id"], "reopen", **ann)
    await change_cta(cta["id"], "close", outcome="resolved", reason="export fixed", **ann)
    await deliver_all(sender)
    texts = [reply.split(" · ")[0] for reply in replies(standin, "C-ANN")]
    assert texts == [
        f"Due date changed to {day(due)} by Ann (was {day(cta['due_on'])})",
        f"Snoozed until {day(until)} by Ann: waiting on their IT",
        "Reopened by Ann",
        "Closed by Ann: resolved — export fixed",
    ]


async def test_a_worse_answer_on_an_open_cta_is_told_in_the_thread(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 5, "Meh")
    sender = slack_deliverer(settings)
    await deliver_all(sender)
    await widget_answer(slack_client, 1, "Worse than ever", user="u2")
    await deliver_all(sender)
    (reply,) = replies(standin, "C-ANN")
    assert reply.startswith("New answer: 1/10 from u2@acme.test (admin) (the card showed 5/10)")
    assert "Worse than ever" in reply
    # a better answer changes the card and adds nothing to the thread
    await widget_answer(slack_client, 4, "Better", user="u9")
    await deliver_all(sender)
    assert len(replies(standin, "C-ANN")) == 1


async def test_a_cta_with_nowhere_to_go_gets_no_replies(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()  # nobody has a Slack id or channel, and there is no default channel
    await widget_answer(slack_client, 2, "Too slow")
    cta = await only_cta()
    await change_cta(cta["id"], "acknowledge", actor="ann@example.com", source="web")
    kinds = [row["kind"] for row in await Outbox.select(Outbox.kind)]
    assert kinds == ["cta"]  # the unrouted card, for admins; no reply
