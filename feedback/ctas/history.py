"""Writing a CTA's history: every change leaves one `cta_event` row (who, from where, what),
in the transaction of the change; what a person or a rule did to it is also queued as a short
reply under its Slack card (feedback.outbox.enqueue.enqueue_thread_reply), since Slack does
not notify anyone of an edited card."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feedback.ctas import queries
from feedback.outbox.enqueue import enqueue_thread_reply

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
