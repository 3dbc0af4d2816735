"""Webhooks delivered to a real receiver process: signed, retried after a 500, dead after a
410, refused for a private address, sent again on replay; time driven by the clock."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feedback.db import write_transaction
from feedback.webhooks.addresses import check_url
from feedback.webhooks.delivery import WebhookDeliverer, replay_delivery, retry_endpoint
from feedback.webhooks.events import record_event
from feedback.webhooks.models import WebhookDelivery
from feedback.webhooks.signing import verify_signature
from tests.system.webhooks.conftest import (
    SECRET,
    Receiver,
    make_endpoint,
    render,
    webhook_settings,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


_open: list[WebhookDeliverer] = []


@pytest.fixture(autouse=True)
async def close_deliverers() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().close()


def deliverer(clock: Clock, **settings: Any) -> WebhookDeliverer:
    sender = WebhookDeliverer(webhook_settings(**settings), render=render, clock=clock)
    _open.append(sender)
    return sender


async def record(object_id: str, event_type: str = "response.created", **kw: Any) -> None:
    async with write_transaction():
        await record_event(event_type, object_id, occurred_at=START, **kw)


async def the_delivery() -> dict[str, Any]:
    [row] = await WebhookDelivery.select().output(load_json=True)
    return row


def my_own_check(secret: str, header: str, body: bytes, now: int) -> bool:
    """Verification written from the documentation alone, as a receiver would."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return abs(now - timestamp) <= 300 and hmac.compare_digest(expected, parts["v1"])


async def test_a_delivery_is_signed_and_verifies(receiver: Receiver) -> None:
    await make_endpoint(receiver.url)
    await record("r_1")
    clock = Clock()
    outcome = await deliverer(clock).deliver_due()
    assert outcome.delivered == 1
    [request] = receiver.requests()
    headers, body = request["headers"], request["body"].encode()
    now = int(clock.now.timestamp())
    assert verify_signature(SECRET, headers["Feedback-Signature"], body, now)
    assert my_own_check(SECRET, headers["Feedback-Signature"], body, now)
    assert not verify_signature(SECRET, headers["Feedback-Signature"], body, now + 301)
    assert not verify_signature("whsec_other", headers["Feedback-Signature"], body, now)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("feedback-webhooks/")
    assert headers["Feedback-Event-Type"] == "response.created"
    payload = json.loads(body)
    assert headers["Feedback-Event-Id"] == payload["id"]
    assert payload["id"].startswith("evt_")
    assert payload["type"] == "response.created"
    assert payload["created"] == "2026-03-02T09:00:00Z"
    assert payload["environment"] == "production"
    assert payload["data"]["object"]["id"] == "r_1"
    assert payload["data"]["object"]["note"] == "Ünïcode"
    delivery = await the_delivery()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["last_status"] == 200 and delivery["delivered_at"] == START


async def test_a_500_is_retried_with_backoff_and_then_delivered(start_receiver: Any) -> None:
    receiver = start_receiver("500,500,200")
    await make_endpoint(receiver.url)
    await record("r_1")
    clock = Clock()
    sender = deliverer(clock)
    first = await sender.deliver_due()
    assert first.retried == 1 and len(receiver.requests()) == 1
    delivery = await the_delivery()
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_status"] == 500
    assert delivery["last_error"] == "HTTP 500: planned 500"
    assert delivery["failing_since"] == START
    wait = delivery["next_attempt_at"] - START
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)
    # not due yet: nothing is sent
    clock.now = START + timedelta(seconds=20)
    assert (await sender.deliver_due()).retried == 0 and len(receiver.requests()) == 1
    clock.now = START + timedelta(minutes=1)
    assert (await sender.deliver_due()).retried == 1
    clock.now = START + timedelta(minutes=5)
    assert (await sender.deliver_due()).delivered == 1
    requests = receiver.requests()
    assert [r["status"] for r in requests] == [500, 500, 200]
    # every attempt sends the same bytes with the same event id
    assert len({r["body"] for r in requests}) == 1
    assert len({r["headers"]["Feedback-Event-Id"] for r in requests}) == 1
    delivery = await the_delivery()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert delivery["failing_since"] is None and delivery["last_error"] == ""


async def test_a_timeout_is_retried(start_receiver: Any) -> None:
    receiver = start_receiver("0")
    await make_endpoint(receiver.url)
    await record("r_1")
    assert (await deliverer(Clock(), timeout_seconds=1).deliver_due()).retried == 1
    delivery = await the_delivery()
    assert delivery["status"] == "pending" and delivery["last_status"] is None
    assert delivery["last_error"] == "no answer within 1 s"


async def test_a_refused_connection_is_retried(receiver: Receiver) -> None:
    receiver.stop()  # nothing listens on its port any more
    await make_endpoint(receiver.url)
    await record("r_1")
    assert (await deliverer(Clock()).deliver_due()).retried == 1
    delivery = await the_delivery()
    assert delivery["status"] == "pending" and delivery["last_status"] is None
    assert delivery["last_error"].startswith("cannot connect")


async def test_a_410_is_dead_after_one_attempt(start_receiver: Any) -> None:
    receiver = start_receiver("410")
    await make_endpoint(receiver.url)
    await record("r_1")
    clock = Clock()
    sender = deliverer(clock)
    assert (await sender.deliver_due()).dead == 1
    clock.now = START + timedelta(hours=2)
    await sender.deliver_due()
    assert len(receiver.requests()) == 1
    delivery = await the_delivery()
    assert delivery["status"] == "dead" and delivery["attempts"] == 1
    assert delivery["last_status"] == 410 and delivery["last_error"] == "HTTP 410: planned 410"


async def test_a_delivery_failing_past_the_horizon_is_dead(start_receiver: Any) -> None:
    receiver = start_receiver("503")
    await make_endpoint(receiver.url)
    await record("r_1")
    clock = Clock()
    sender = deliverer(clock, retry_hours=2, disable_after_hours=48)
    await sender.deliver_due()
    hours = 0.0
    while (await the_delivery())["status"] == "pending":
        clock.now = (await the_delivery())["next_attempt_at"]
        await sender.deliver_due()
        hours = (clock.now - START).total_seconds() / 3600
        assert hours < 4
    delivery = await the_delivery()
    assert delivery["status"] == "dead" and hours >= 2
    assert delivery["last_error"].startswith("failing for over 2 h: HTTP 503")
    # 30 s doubling: 30, 60, 120, ..., 3600 (capped) within 2 h, give or take the jitter
    assert 7 <= delivery["attempts"] <= 10


async def test_a_private_address_is_refused_without_the_setting(receiver: Receiver) -> None:
    with pytest.raises(Exception, match="FEEDBACK_WEBHOOK_ALLOW_PRIVATE"):
        check_url(receiver.url, allow_private=False)
    # saved while allowed, or a name that now resolves to loopback (DNS rebinding)
    literal = await make_endpoint(receiver.url)
    named = await make_endpoint(receiver.url.replace("127.0.0.1", "localhost"))
    await record("r_1")
    outcome = await deliverer(Clock(), allow_private=False).deliver_due()
    assert outcome.dead == 2
    assert receiver.requests() == []
    rows = await WebhookDelivery.select().order_by(WebhookDelivery.endpoint)
    errors = {row["endpoint"]: row["last_error"] for row in rows}
    assert errors[literal] == "refused: 127.0.0.1 is a loopback address"
    assert errors[named].startswith("refused: localhost resolves to a loopback address")
    assert all(row["status"] == "dead" and row["attempts"] == 1 for row in rows)


async def test_replay_sends_the_same_body_with_the_same_event_id(receiver: Receiver) -> None:
    await make_endpoint(receiver.url)
    await record("r_1")
    clock = Clock()
    sender = deliverer(clock)
    await sender.deliver_due()
    delivery = await the_delivery()
    clock.now = START + timedelta(days=3)
    assert await replay_delivery(delivery["id"], clock.now)
    assert not await replay_delivery(delivery["id"], clock.now)  # pending already
    assert not await replay_delivery(delivery["id"] + 1000, clock.now)
    assert (await sender.deliver_due()).delivered == 1
    first, again = receiver.requests()
    assert first["body"] == again["body"]
    assert first["headers"]["Feedback-Event-Id"] == again["headers"]["Feedback-Event-Id"]
    assert first["headers"]["Feedback-Signature"] != again["headers"]["Feedback-Signature"]
    assert verify_signature(
        SECRET,
        again["headers"]["Feedback-Signature"],
        again["body"].encode(),
        int(clock.now.timestamp()),
    )
    delivery = await the_delivery()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2


async def test_the_dead_deliveries_of_an_endpoint_are_sent_again(start_receiver: Any) -> None:
    gone = start_receiver("404")
    endpoint = await make_endpoint(gone.url)
    await record("r_1")
    await record("r_2")
    clock = Clock()
    sender = deliverer(clock)
    assert (await sender.deliver_due()).dead == 2
    assert await retry_endpoint(endpoint, clock.now) == 2
    assert await retry_endpoint(endpoint, clock.now) == 0
    assert (await sender.deliver_due()).dead == 2
    assert len(gone.requests()) == 4
