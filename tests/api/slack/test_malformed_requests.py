"""What `/slack/events` answers to requests Slack would never send, or sends rarely: the
signature is checked first, on the raw bytes, and nothing answers 500."""

from __future__ import annotations

import json
import time

import httpx

from devtools.slack_standin import SlackStandIn
from tests.support.slack import interaction, signed

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_a_non_numeric_timestamp_is_401(slack_client: httpx.AsyncClient) -> None:
    body = "command=/nps&text=help&user_id=UANN"
    headers = {**signed(body), "x-slack-request-timestamp": "soon"}
    answer = await slack_client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 401, answer.text


async def test_an_unsigned_deeply_nested_body_is_401_without_being_parsed(
    slack_client: httpx.AsyncClient,
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    answer = await slack_client.post(
        "/slack/events", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401, answer.text


async def test_a_signed_deeply_nested_body_is_400(slack_client: httpx.AsyncClient) -> None:
    body = '{"type": "event_callback", "event": ' + "[" * 100_000 + "]" * 100_000 + "}"
    headers = {**signed(body), "content-type": "application/json"}
    answer = await slack_client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"][0]["field"] == "body"


async def test_an_unsigned_unparseable_body_is_401(slack_client: httpx.AsyncClient) -> None:
    for content_type in ("application/json", FORM["content-type"]):
        answer = await slack_client.post(
            "/slack/events", content=b"{not json\xff", headers={"content-type": content_type}
        )
        assert answer.status_code == 401, (content_type, answer.text)


async def test_a_signed_view_submission_without_a_view_type_is_400(
    slack_client: httpx.AsyncClient, standin: SlackStandIn
) -> None:
    body = interaction(
        {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "UANN", "team_id": "T1"},
            "api_app_id": "A1",
            "view": {"id": "V1", "callback_id": "cta_close_modal", "state": {"values": {}}},
        }
    )
    answer = await slack_client.post("/slack/events", content=body, headers=signed(body))
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"][0]["field"] == "payload.view.type"
    assert standin.calls == []


async def test_an_ssl_check_is_200(slack_client: httpx.AsyncClient) -> None:
    body = "ssl_check=1&token=legacy-verification-token"
    unsigned = await slack_client.post("/slack/events", content=body, headers=FORM)
    assert unsigned.status_code == 200, unsigned.text
    signed_check = await slack_client.post("/slack/events", content=body, headers=signed(body))
    assert signed_check.status_code == 200, signed_check.text


async def test_odd_signature_headers_are_401(slack_client: httpx.AsyncClient) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"})
    now = str(int(time.time()))
    cases: list[dict[str, str | bytes]] = [
        {"x-slack-request-timestamp": now},
        {"x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": now, "x-slack-signature": "v0=zz"},
        {"x-slack-request-timestamp": "1e9", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "99999999999999999999999", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": "-5", "x-slack-signature": "v0=00"},
        {"x-slack-request-timestamp": " ", "x-slack-signature": ""},
        {"x-slack-request-timestamp": "١٢٣".encode(), "x-slack-signature": "v0=00"},
    ]
    for headers in cases:
        answer = await slack_client.post(
            "/slack/events",
            content=body,
            headers={"content-type": "application/json", **headers},
        )
        assert answer.status_code == 401, (headers, answer.status_code, answer.text)
