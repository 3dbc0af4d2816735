"""Recording what happened, for the webhooks: a change calls `record_event` inside its own
transaction, so the event exists exactly when the change does (the dispatcher renders it and
fans it out to the endpoints later; see `dispatch`)."""

from __future__ import annotations

from datetime import datetime

from feedback.db import Statement
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.webhooks.models import EventType

# Written only while some endpoint is switched on: with no webhooks registered, a change
# pays one indexed existence check, nothing more.
_RECORD = Statement("""
INSERT INTO webhook_event (type, object_id, environment, occurred_at)
SELECT {}, {}, {}, {}
WHERE EXISTS (SELECT 1 FROM webhook_endpoint WHERE active)""")


async def record_event(
    event_type: EventType | str,
    object_id: str | int,
    environment: str = PRODUCTION,
    occurred_at: datetime | None = None,
) -> None:
    """Record that `event_type` happened to the object `object_id` (its id as the API names
    it), in the caller's transaction."""
    await _RECORD.run(
        EventType(event_type).value, str(object_id), environment, occurred_at or utcnow()
    )
