"""Queueing a CTA's message: where it goes (routing), the outbox row written in the caller's
transaction, and waking this process's deliverer.

One pending row per CTA and channel is enough: the deliverer renders the CTA as it is when it
sends, so later changes ride on the row already queued.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from feedback.kernel.clock import utcnow
from feedback.outbox import queries
from feedback.outbox.models import OutboxStatus
from feedback.settings import get_settings

UNROUTED_ERROR = "no Slack channel: owner has none and no default"
NOTICE_UNROUTED_ERROR = "no Slack channel: none given and no default"

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


def route(
    owner_channel: str | None, owner_user: str | None, pool_channel: str | None = None
) -> str | None:
    """Where a CTA goes: the channel of the pool serving it (its specialists claim it there
    and keep working on it there), else the owner's channel, else a direct message to the
    owner, else the default channel (None: nowhere; the outbox keeps it as unrouted for
    admins). Routing does not depend on whether this process has Slack configured: any
    process may queue a message (an import, a rule) and the deliverers that have Slack send
    it."""
    return (
        pool_channel or owner_channel or owner_user or get_settings().slack.default_channel or None
    )


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
    target = route(row["owner_channel"], row["owner_slack_user"], row["pool_channel"])
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


async def enqueue_notice(channel: str | None, text: str, key: str, now: datetime) -> None:
    """Queue a plain Slack message in the caller's transaction: to `channel` (a channel, or
    a user for a direct message), else the default channel, else unrouted (kept for admins).
    `key` makes it once: queueing the same key again does nothing."""
    target = channel or get_settings().slack.default_channel or None
    await queries.INSERT_MESSAGE.run(
        f"notice:{key}"[:200],
        "notice",
        None,
        target,
        json.dumps({"text": text}),
        OutboxStatus.pending.value if target else OutboxStatus.unrouted.value,
        now,
        "" if target else NOTICE_UNROUTED_ERROR,
        now,
    )
    notify_delivery()


async def enqueue_thread_reply(cta_id: int, event: dict[str, Any], now: datetime) -> None:
    """Queue a short reply under the CTA's card saying what happened (`event`: action, actor,
    source, note, data, statuses, at), in the caller's transaction: under its main card (the
    owner's, or the pool's), else under the card about to be posted where it is routed. The
    deliverer sends it after every card message of the CTA waiting in that channel. A CTA
    with nowhere to go has no card, and gets no reply."""
    row = await queries.ROUTE.first(cta_id)
    if row is None:
        return
    channel = None
    if row["slack_ts"]:
        card = await queries.CARD_OF_TS.first(cta_id, row["slack_ts"])
        channel = card["channel"] if card else None
    channel = channel or route(row["owner_channel"], row["owner_slack_user"], row["pool_channel"])
    if channel is None:
        return
    # a change and its reply commit or roll back together: the key only has to be unique
    key = f"thread:{cta_id}:{event.get('action')}:{now.isoformat()}:{secrets.token_hex(4)}"
    await queries.INSERT_MESSAGE.run(
        key[:200],
        "thread",
        cta_id,
        channel,
        json.dumps(event, default=str, sort_keys=True),
        OutboxStatus.pending.value,
        now,
        "",
        now,
    )
    notify_delivery()
