"""Queueing a CTA's message: where it goes (routing), the outbox row written in the caller's
transaction, and waking this process's deliverer.

One pending row per CTA and channel is enough: the deliverer renders the CTA as it is when it
sends, so later changes ride on the row already queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

from feedback.kernel.clock import utcnow
from feedback.outbox import queries
from feedback.outbox.models import OutboxStatus
from feedback.settings import get_settings

UNROUTED_ERROR = "no Slack channel: owner has none and no default"

_listeners: list[Callable[[], None]] = []


def on_enqueue(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` whenever this process queues a message (the in-process deliverer
    wakes up at once). Returns the function that stops it (the deliverer calls it when it
    stops)."""
    _listeners.append(callback)

    def stop_listening() -> None:
        with contextlib.suppress(ValueError):
            _listeners.remove(callback)

    return stop_listening


def notify_delivery() -> None:
    """A message was queued (or queued again): wake this process's deliverers."""
    for callback in list(_listeners):
        callback()


def route(owner_channel: str | None, owner_user: str | None) -> str | None:
    """Where a CTA goes: the owner's channel, else a direct message to the owner, else the
    default channel (None: nowhere; the outbox keeps it as unrouted for admins). Routing
    does not depend on whether this process has Slack configured: any process may queue a
    message (an import, a rule) and the deliverers that have Slack send it."""
    return owner_channel or owner_user or get_settings().slack.default_channel


async def enqueue_cta_message(
    cta_id: int, now: datetime | None = None, *, refresh: bool = False
) -> None:
    """Queue a post or an update of the CTA's messages: in the owner's channel, and in every
    channel where it has a card already (after a reassignment the old owner's card shows the
    new owner, without buttons, and keeps showing its state). One pending row per CTA and
    channel is enough: the worker renders the CTA as it is when it sends. A change queues
    its version's messages once; `refresh` queues them again (a click on a stale card)."""
    now = now or utcnow()
    row = await queries.ROUTE.first(cta_id)
    if row is None:
        return
    target = route(row["owner_channel"], row["owner_slack_user"])
    cards = await queries.CARD_CHANNELS.fetch(cta_id)
    channels: list[str | None] = [target, *sorted({card["channel"] for card in cards} - {target})]
    for channel in channels:
        if channel:
            pending = await queries.PENDING_IN_CHANNEL.first(cta_id, channel)
        else:  # one unrouted row per CTA shows admins what it would say
            pending = await queries.UNROUTED_OF_CTA.first(cta_id)
        if pending is not None:
            continue
        key = f"cta:{cta_id}:v{row['version']}:{channel or '-'}"
        await queries.INSERT_CTA_MESSAGE.run(
            f"{key}:refresh:{now.isoformat()}" if refresh else key,
            cta_id,
            channel,
            "{}",
            OutboxStatus.pending.value if channel else OutboxStatus.unrouted.value,
            now,
            "" if channel else UNROUTED_ERROR,
            now,
        )
    notify_delivery()


async def enqueue_cta_messages(cta_ids: Sequence[int], now: datetime) -> None:
    """`enqueue_cta_message` for many CTAs in one statement (PostgreSQL only: the answer rule
    runner's batches)."""
    default_channel = get_settings().slack.default_channel or None
    await queries.ENQUEUE_CTA_MESSAGES.run(default_channel, list(cta_ids), now, UNROUTED_ERROR, now)
    notify_delivery()
