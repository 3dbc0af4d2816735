"""An endpoint whose deliveries fail for a day is switched off, its waiting deliveries are
dead, and the admins are told (a Slack notice queued, an audit entry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.auth.models import AuditEntry
from feedback.db import write_transaction
from feedback.outbox.models import Outbox
from feedback.webhooks.delivery import WebhookDeliverer
from feedback.webhooks.events import record_event
from feedback.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.system.webhooks.conftest import make_endpoint, render, webhook_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_an_endpoint_failing_for_a_day_is_switched_off(start_receiver: Any) -> None:
    broken = start_receiver("500")
    working = start_receiver("200")
    endpoint = await make_endpoint(broken.url)
    other = await make_endpoint(working.url)
    now = START
    sender = WebhookDeliverer(webhook_settings(), render=render, clock=lambda: now)
    try:
        async with write_transaction():
            await record_event("response.created", "r_1", occurred_at=now)
        await sender.deliver_due()
        # failing, retried through the day; a second event arrives meanwhile
        now = START + timedelta(hours=20)
        async with write_transaction():
            await record_event("response.created", "r_2", occurred_at=now)
        await sender.deliver_due()
        [row] = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint)
        assert row["active"]
        now = START + timedelta(hours=24, minutes=1)
        outcome = await sender.deliver_due()
        assert outcome.switched_off == [endpoint]
    finally:
        await sender.close()
    [row] = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint)
    assert not row["active"]
    assert row["disabled_at"] == now
    assert row["disabled_reason"].startswith("switched off by the service: every delivery failed")
    deliveries = await WebhookDelivery.select().where(WebhookDelivery.endpoint == endpoint)
    assert {d["status"] for d in deliveries} == {"dead"}
    # the other endpoint is untouched
    [kept] = await WebhookEndpoint.select().where(WebhookEndpoint.id == other)
    assert kept["active"]
    [notice] = await Outbox.select().where(Outbox.kind == "notice")
    assert notice["key"].startswith(f"notice:webhook-off:{endpoint}:")
    assert (
        broken.url in notice["payload"]["text"]
        if isinstance(notice["payload"], dict)
        else (broken.url in notice["payload"])
    )
    [entry] = await AuditEntry.select().where(AuditEntry.action == "webhook.switch_off")
    assert entry["target"] == str(endpoint) and entry["actor"] == "service"


async def test_a_success_in_between_keeps_the_endpoint_on(start_receiver: Any) -> None:
    flaky = start_receiver("500,200,500")
    endpoint = await make_endpoint(flaky.url)
    now = START
    sender = WebhookDeliverer(webhook_settings(), render=render, clock=lambda: now)
    try:
        async with write_transaction():
            await record_event("response.created", "r_1", occurred_at=now)
        await sender.deliver_due()  # 500
        now = START + timedelta(hours=1)
        await sender.deliver_due()  # 200
        async with write_transaction():
            await record_event("response.created", "r_2", occurred_at=now)
        await sender.deliver_due()  # 500 from here on
        now = START + timedelta(hours=24, minutes=30)
        assert (await sender.deliver_due()).switched_off == []
    finally:
        await sender.close()
    [row] = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint)
    assert row["active"]
