"""Recording what happened, for the webhooks: a change calls `record_event` inside its own
transaction, so the event exists exactly when the change does (the dispatcher renders it and
fans it out to the endpoints later; see `dispatch`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.webhooks import queries
from feedback.webhooks.models import EventType

_listeners: list[Callable[[], None]] = []


async def record_event(
    event_type: EventType | str,
    object_id: str | int,
    environment: str = PRODUCTION,
    occurred_at: datetime | None = None,
) -> None:
    """Record that `event_type` happened to the object `object_id` (its id as the API names
    it), in the caller's transaction. Written only while some endpoint is switched on."""
    written = await queries.RECORD_EVENT.fetch(
        EventType(event_type).value, str(object_id), environment, occurred_at or utcnow()
    )
    if written:  # nothing to wake the deliverer for while no endpoint is on
        notify_deliverers()


async def endpoints_active() -> bool:
    """Whether any endpoint is switched on (so a change has events to record): a writer of
    many events asks once instead of once per event."""
    return bool(await queries.ANY_ACTIVE_ENDPOINT.fetch())


async def record_events(
    events: Iterable[tuple[EventType | str, str | int]],
    environment: str = PRODUCTION,
    occurred_at: datetime | None = None,
) -> None:
    """`record_event` for each (type, object id) of a change written in bulk, asking once
    whether any endpoint is on instead of once per event."""
    pending = list(events)
    if not pending or not await endpoints_active():
        return
    for event_type, object_id in pending:
        await record_event(event_type, object_id, environment, occurred_at)


def on_event(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` whenever this process records an event (the deliverer's wake-up; it
    looks once the recording transaction has committed, or at its next poll). Returns the
    function that stops it."""
    _listeners.append(callback)

    def stop_listening() -> None:
        if callback in _listeners:
            _listeners.remove(callback)

    return stop_listening


def notify_deliverers() -> None:
    for callback in list(_listeners):
        callback()
