"""Dispatching events: each event recorded by a change is rendered once, its payload frozen
in `webhook_event.data` (so every attempt and every replay sends the same bytes), and one
delivery made for each switched-on endpoint of the event's environment that takes its type.

Safe to run in several processes at once: the payload is frozen by whichever renders it
first, a delivery's slot (`endpoint:event`) is unique, and an event is marked dispatched
once. An endpoint registered after an event was dispatched does not get that event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from feedback.db import as_utc_datetime, json_object, write_transaction
from feedback.kernel.clock import Clock, utcnow
from feedback.webhooks import queries

log = logging.getLogger("feedback.webhooks")

# the object an event is about in its API shape, or None when it is gone
Renderer = Callable[[str, str], Awaitable[dict[str, Any] | None]]

BATCH = 200


async def render_object(event_type: str, object_id: str) -> dict[str, Any] | None:
    """The object as the API shows it (feedback/webhooks/objects.py)."""
    from feedback.webhooks import objects  # type: ignore[attr-defined, unused-ignore]

    result: dict[str, Any] | None = await objects.render_object(event_type, object_id)
    return result


def payload(
    event_id: int, event_type: str, occurred_at: datetime, environment: str, obj: dict[str, Any]
) -> dict[str, Any]:
    """The body every endpoint gets for an event."""
    return {
        "id": f"evt_{event_id}",
        "type": event_type,
        "created": occurred_at.isoformat().replace("+00:00", "Z"),
        "environment": environment,
        "data": {"object": obj},
    }


def body_of(data: Any) -> bytes:
    """A frozen payload as sent: compact JSON with sorted keys, so it is the same bytes
    whichever engine stored it (PostgreSQL's jsonb keeps its own key order)."""
    value = json_object(data) if isinstance(data, str) else data
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def dispatch_events(
    render: Renderer | None = None, clock: Clock = utcnow, batch: int = BATCH
) -> int:
    """Dispatch the events not dispatched yet, a batch at a time: how many were. One indexed
    query when there are none."""
    render = render or render_object
    done = 0
    while True:
        rows = await queries.UNDISPATCHED.fetch(batch)
        for row in rows:
            done += await _dispatch(row, render, clock)
        if len(rows) < batch:
            return done


async def _dispatch(row: dict[str, Any], render: Renderer, clock: Clock) -> int:
    event_id = int(row["id"])
    data = row["data"]
    frozen: str | None = None
    if data is None:
        obj = await render(row["type"], row["object_id"])
        if obj is not None:
            occurred_at = as_utc_datetime(row["occurred_at"]) or clock()
            body = payload(event_id, row["type"], occurred_at, row["environment"], obj)
            frozen = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    else:
        frozen = body_of(data).decode()
    now = clock()
    async with write_transaction():
        marked = await queries.FREEZE_EVENT.first(frozen, now, event_id)
        if marked is None:
            return 0  # another dispatcher did it
        if frozen is None:
            # the object is gone (erased, deleted) before it was sent: nothing to send
            log.info("webhook event %s: its object %s is gone", event_id, row["object_id"])
            return 1
        await queries.FAN_OUT.run(
            str(event_id), event_id, now, now, row["environment"], row["type"]
        )
    return 1
