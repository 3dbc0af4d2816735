"""Writing a CTA's history: every change leaves one `cta_event` row (who, from where, what),
in the transaction of the change; what a person or a rule did to it is also queued as a short
reply under its Slack card (feedback.outbox.enqueue.enqueue_thread_reply), since Slack does
not notify anyone of an edited card; and the webhooks hear of it (`cta.created` for the
first event, `cta.changed` for every later one). CTAs are production's: answers on other
environments' keys raise none."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from feedback.ctas import queries
from feedback.outbox.enqueue import enqueue_thread_reply
from feedback.webhooks.events import record_event as record_webhook_event
from feedback.webhooks.events import record_events as record_webhook_events
from feedback.webhooks.models import EventType

# the actions that leave a reply under the CTA's card: what people (and the rules acting as
# people: assignment, escalation, a snooze that ends) did to it. A rule's signals show on the
# card itself; a worse answer also gets a reply, which the deliverer adds when it updates
# the card (it knows what the card showed before).
THREADED_ACTIONS = frozenset(
    {
        "acknowledge",
        "snooze",
        "close",
        "reassign",
        "reopen",
        "claim",
        "assign",
        "escalate",
        "set_due",
        "note",
        "unclaim",
    }
)


def json_text(value: dict[str, Any]) -> str:
    """A JSON column's value as a statement parameter (dates and datetimes as text)."""
    return json.dumps(value, default=str, sort_keys=True)


async def record_event(
    cta_id: int,
    actor: str,
    source: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    now: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    await queries.INSERT_EVENT.run(
        cta_id,
        now,
        actor[:200],
        source,
        action,
        None if from_status is None else str(from_status),
        None if to_status is None else str(to_status),
        note,
        json_text(data or {}),
    )
    await tell_webhooks(cta_id, action, now)
    if action in THREADED_ACTIONS:
        event = {
            "action": action,
            "actor": actor[:200],
            "source": source,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
            "data": data or {},
            "at": now,
        }
        await enqueue_thread_reply(cta_id, event, now)


async def tell_webhooks(cta_id: int, action: str, now: datetime) -> None:
    """The webhook event of a history event just written (in its transaction): `cta.created`
    for the CTA's first ("created"), `cta.changed` for any other. Writers of history rows in
    bulk call it for each row they write."""
    kind = EventType.cta_created if action == "created" else EventType.cta_changed
    await record_webhook_event(kind, cta_id, occurred_at=now)


async def tell_webhooks_of(events: Iterable[tuple[int, str]], now: datetime) -> None:
    """`tell_webhooks` for history rows written in bulk: (CTA id, action) each."""
    await record_webhook_events(
        (
            (EventType.cta_created if action == "created" else EventType.cta_changed, cta_id)
            for cta_id, action in events
        ),
        occurred_at=now,
    )
