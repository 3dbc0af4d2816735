"""Helpers for the Slack tests: settings pointing at the stand-in, signed Slack requests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from devtools.slack_standin import SlackStandIn
from feedback.accounts.models import CSM
from feedback.outbox.delivery import Deliverer
from feedback.settings import Settings

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"


def slack_env(api_url: str, **extra: str) -> dict[str, str]:
    return {
        "FEEDBACK_SLACK_BOT_TOKEN": BOT_TOKEN,
        "FEEDBACK_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FEEDBACK_SLACK_API_URL": api_url,
        "FEEDBACK_SLACK_CHANNEL_INTERVAL_MS": "0",
        "FEEDBACK_PUBLIC_URL": "https://feedback.example.com",
        **extra,
    }


def signed(
    body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


def interaction(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def block_action(
    user: str, action: dict[str, Any], channel: str = "C-ANN", ts: str = "1.000001"
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "t"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "trigger-1",
        "channel": {"id": channel, "name": "cs"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "message": {"ts": ts, "type": "message"},
        "response_url": "https://hooks.slack.invalid/actions/1",
        "actions": [{"block_id": "b", "action_ts": "1", **action}],
    }


def slash(user: str, text: str) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "t",
            "channel_id": "C-ANN",
            "channel_name": "cs",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/nps",
            "text": text,
            "api_app_id": "A1",
            "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": "trigger-2",
        }
    )


async def link_slack_users() -> None:
    """Ann and Bob get Slack ids and channels; Boss (their manager) only a Slack id."""
    await CSM.update({CSM.slack_user_id: "UANN", CSM.slack_channel: "C-ANN"}).where(
        CSM.email == "ann@example.com"
    )
    await CSM.update({CSM.slack_user_id: "UBOB", CSM.slack_channel: "C-BOB"}).where(
        CSM.email == "bob@example.com"
    )
    await CSM.update({CSM.slack_user_id: "UBOSS"}).where(CSM.email == "boss@example.com")


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """Slack's Web API stand-in on a loopback port, without rate limits."""
    server = await SlackStandIn(rate_interval=0.0, rate_tolerance=0.0).start()
    yield server
    await server.stop()


async def post_signed(client: httpx.AsyncClient, body: str, **options: Any) -> httpx.Response:
    """POST a body to /slack/events signed as Slack signs it (a form unless told JSON)."""
    headers = signed(body, **options)
    if body.startswith("{"):
        headers["content-type"] = "application/json"
    return await client.post("/slack/events", content=body, headers=headers)


async def widget_answer(
    client: httpx.AsyncClient, score: int, comment: str | None = None, user: str = "u1"
) -> None:
    """An end user of account a1 answers through the widget; the CTA rules run at once."""
    from feedback.ctas.rules import drain_answer_rules
    from tests.support.factories import ORIGIN, widget_setup

    headers = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}
    setup = await widget_setup()
    body = {"user_id": user, "account_id": "a1", "traits": {"role": "admin"}}
    shown = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=headers
    )
    display = shown.json()["display_token"]
    scored = await client.post(
        f"/widget/v1/{setup['key']}/responses",
        content=json.dumps(
            {"display_token": display, "client_id": f"client-{user}-1", "score": score}
        ),
        headers=headers,
    )
    assert scored.status_code == 201, scored.text
    if comment is not None:
        commented = await client.post(
            f"/widget/v1/{setup['key']}/comments",
            content=json.dumps({"display_token": display, "comment": comment}),
            headers=headers,
        )
        assert commented.status_code == 200, commented.text
    await drain_answer_rules()


def slack_deliverer(settings: Settings, **options: Any) -> Deliverer:
    """The service's deliverer with short backoffs."""
    from feedback.runtime import slack_deliverer as build

    return build(settings, **{"backoff_seconds": 0.01, **options})


async def only_cta() -> dict[str, Any]:
    from feedback.ctas.models import Cta

    rows = await Cta.select()
    assert len(rows) == 1, rows
    return rows[0]
