"""When Slack's Web API fails while a click or an event is handled: the click is still
answered 200 and the user is told; an event that failed is handled on Slack's retry."""

from __future__ import annotations

import json
import time

import httpx

from devtools.slack_standin import SlackStandIn
from feedback.ctas.models import SlackEventSeen
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


def click(standin: SlackStandIn, user: str, action: dict[str, object]) -> str:
    payload = block_action(user, action)
    payload["response_url"] = f"{standin.base_url}/response_url/1"
    return interaction(payload)


async def test_a_failing_views_open_is_answered_200_and_the_user_is_told(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    cta = await only_cta()
    standin.fail("views.open", status=500)
    body = click(
        standin, "UANN", {"action_id": "cta_close", "type": "button", "value": f"{cta['id']}:1"}
    )
    answer = await post_signed(slack_client, body)
    assert answer.status_code == 200, answer.text
    (note,) = standin.calls_to("chat.postEphemeral")
    assert note.args["user"] == "UANN"
    assert "could not open the close form" in note.args["text"]
    assert f"/ctas/{cta['id']}" in note.args["text"]


async def test_a_failing_post_ephemeral_is_answered_200_and_told_through_the_response_url(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    cta = await only_cta()
    standin.fail("chat.postEphemeral", status=500, times=5)
    # Bob may not act on Ann's CTA: the refusal cannot go through chat.postEphemeral
    body = click(
        standin, "UBOB", {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"}
    )
    answer = await post_signed(slack_client, body)
    assert answer.status_code == 200, answer.text
    assert standin.calls_to("chat.postEphemeral", ok_only=False)
    (told,) = standin.calls_to("response_url")
    assert told.args["response_type"] == "ephemeral" and told.args["replace_original"] is False
    assert "belongs to Ann" in told.args["text"]
    # with views.open failing as well, the user still hears of it
    standin.fail("views.open", status=500)
    body = click(
        standin, "UANN", {"action_id": "cta_close", "type": "button", "value": f"{cta['id']}:1"}
    )
    assert (await post_signed(slack_client, body)).status_code == 200
    assert "could not open the close form" in standin.calls_to("response_url")[-1].args["text"]


async def test_a_home_that_could_not_be_published_is_published_on_slacks_retry(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    await slack_deliverer(settings).deliver_once()
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvHome1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "UANN", "channel": "D1", "tab": "home"},
    }
    body = json.dumps(event)
    standin.fail("views.publish", status=500)
    first = await post_signed(slack_client, body)
    assert first.status_code == 503, first.text  # not 500; Slack retries a non-2xx answer
    assert await SlackEventSeen.count() == 0
    retried = await post_signed(slack_client, body)
    assert retried.status_code == 200, retried.text
    (published,) = standin.calls_to("views.publish")
    assert "New detractors (1)" in json.dumps(published.args["view"]["blocks"])
    again = await post_signed(slack_client, body)  # a third delivery changes nothing
    assert again.status_code == 200
    assert len(standin.calls_to("views.publish")) == 1
