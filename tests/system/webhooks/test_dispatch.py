"""Dispatching events: one delivery per switched-on endpoint of the event's environment that
takes its type, never two, a payload frozen once, nothing for an object that is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedback.db import write_transaction
from feedback.webhooks.dispatch import body_of, dispatch_events
from feedback.webhooks.events import on_event, record_event
from feedback.webhooks.models import WebhookDelivery, WebhookEvent
from tests.system.webhooks.conftest import make_endpoint, render

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def record(event_type: str, object_id: str, environment: str = "production") -> None:
    async with write_transaction():
        await record_event(event_type, object_id, environment, AT)


async def slots() -> set[tuple[int, int]]:
    rows = await WebhookDelivery.select(WebhookDelivery.endpoint, WebhookDelivery.event)
    return {(row["endpoint"], row["event"]) for row in rows}


async def test_no_event_is_recorded_while_no_endpoint_is_on() -> None:
    await make_endpoint("https://hooks.example.com/", active=False)
    await record("response.created", "r_1")
    assert await WebhookEvent.count() == 0
    assert await dispatch_events(render) == 0


async def test_each_endpoint_gets_the_events_it_takes_from_its_environment() -> None:
    responses = await make_endpoint("https://a.example.com/", ["response.created"])
    ctas = await make_endpoint("https://b.example.com/", ["cta.created", "cta.changed"])
    staging = await make_endpoint("https://c.example.com/", ["response.created"], "staging")
    await make_endpoint("https://d.example.com/", ["response.created"], active=False)
    await record("response.created", "r_1")
    await record("cta.changed", "c_1")
    await record("response.created", "r_2", "staging")
    assert await dispatch_events(render) == 3
    events = {row["object_id"]: row["id"] for row in await WebhookEvent.select()}
    assert await slots() == {
        (responses, events["r_1"]),
        (ctas, events["c_1"]),
        (staging, events["r_2"]),
    }


async def test_dispatching_again_creates_nothing_twice() -> None:
    await make_endpoint("https://a.example.com/")
    await record("response.created", "r_1")
    assert await dispatch_events(render) == 1
    assert await dispatch_events(render) == 0
    # even when the event is dispatched again from scratch (two dispatchers racing)
    await WebhookEvent.update({WebhookEvent.dispatched_at: None}, force=True)
    assert await dispatch_events(render) == 1
    assert await WebhookDelivery.count() == 1


async def test_the_payload_is_frozen_at_dispatch() -> None:
    await make_endpoint("https://a.example.com/")
    await record("response.created", "r_1")
    calls: list[tuple[str, str]] = []

    async def counting(event_type: str, object_id: str) -> dict[str, Any] | None:
        calls.append((event_type, object_id))
        return await render(event_type, object_id)

    await dispatch_events(counting)
    [event] = await WebhookEvent.select()
    await WebhookEvent.update({WebhookEvent.dispatched_at: None}, force=True)
    await dispatch_events(counting)  # the frozen payload is kept, not rendered again
    assert calls == [("response.created", "r_1")]
    [again] = await WebhookEvent.select()
    assert body_of(again["data"]) == body_of(event["data"])
    assert body_of(event["data"]).startswith(b'{"created":"2026-03-02T09:00:00Z","data":')


async def test_an_object_gone_before_dispatch_sends_nothing() -> None:
    await make_endpoint("https://a.example.com/")
    await record("response.created", "gone_1")
    assert await dispatch_events(render) == 1
    assert await WebhookDelivery.count() == 0
    [event] = await WebhookEvent.select()
    assert event["dispatched_at"] is not None and event["data"] is None


async def test_recording_an_event_wakes_the_deliverers() -> None:
    await make_endpoint("https://a.example.com/")
    woken: list[int] = []
    stop = on_event(lambda: woken.append(1))
    try:
        await record("response.created", "r_1")
    finally:
        stop()
    await record("response.created", "r_2")
    assert woken == [1]
