"""The outbox as admins see it (queued, dead, unrouted, with the message it carries), its
summary for the admin page and /metrics, and sending a message again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedback.auth.services import audit
from feedback.ctas.reads import load_cta
from feedback.db import as_utc_datetime, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.outbox import queries
from feedback.outbox.enqueue import notify_delivery, route
from feedback.outbox.messages import Backlog, ListedMessage, OutboxMessage
from feedback.outbox.metrics import record_backlog
from feedback.outbox.models import Outbox, OutboxStatus
from feedback.outbox.render import render
from feedback.settings import get_settings

STATUSES = tuple(s.value for s in OutboxStatus)


async def list_messages(status: str | None, limit: int = 100) -> list[ListedMessage]:
    """The newest messages of a status (by default every one not sent), with what each
    shows or would show."""
    if status is not None and status not in STATUSES:
        raise InputError("status", f"one of {', '.join(STATUSES)}")
    query = Outbox.select(
        Outbox.id,
        Outbox.key,
        Outbox.kind,
        Outbox.cta,
        Outbox.channel,
        Outbox.payload,
        Outbox.status,
        Outbox.attempts,
        Outbox.next_attempt_at,
        Outbox.last_error,
        Outbox.failing_since,
        Outbox.slack_ts,
        Outbox.created_at,
        Outbox.sent_at,
    )
    if status is not None:
        query = query.where(Outbox.status == status)
    else:
        query = query.where(Outbox.status != OutboxStatus.sent.value)
    rows = await query.order_by(Outbox.id, ascending=False).limit(limit)
    return [ListedMessage.from_row(row, await render(OutboxMessage.from_row(row))) for row in rows]


async def outbox_backlog(now: datetime | None = None) -> Backlog:
    """What waits to be sent, also set on the backlog gauges (feedback.outbox.metrics)."""
    row = await queries.BACKLOG.first()
    oldest = as_utc_datetime(row["oldest"]) if row else None
    backlog = Backlog(
        waiting=int(row["waiting"] or 0) if row else 0,
        oldest_seconds=max(((now or utcnow()) - oldest).total_seconds(), 0.0) if oldest else 0.0,
        retrying=int(row["retrying"] or 0) if row else 0,
    )
    record_backlog(backlog)
    return backlog


async def outbox_summary() -> dict[str, Any]:
    """Per status: how many messages, and when the oldest was queued (read for /metrics at
    every scrape)."""
    rows = await queries.SUMMARY.fetch()
    return {
        row["status"]: {"count": int(row["n"]), "oldest": as_utc_datetime(row["oldest"])}
        for row in rows
    }


async def retry(message_id: int, actor: str) -> dict[str, Any]:
    """A dead or unrouted message goes back to the queue (routed again: the owner may have
    a channel by now)."""
    row = (
        await Outbox.select(Outbox.id, Outbox.status, Outbox.cta, Outbox.channel)
        .where(Outbox.id == message_id)
        .first()
    )
    if row is None:
        raise NotFound.for_field("message", f"no outbox message {message_id}")
    if row["status"] not in (OutboxStatus.dead.value, OutboxStatus.unrouted.value):
        raise Conflict.for_field(
            "message", f"only dead or unrouted messages, this one is {row['status']}"
        )
    channel = row["channel"] or get_settings().slack.default_channel or None
    if row["cta"] is not None:
        cta = await load_cta(row["cta"])
        if cta is not None:
            channel = route(cta.owner_channel, cta.owner_slack_user, cta.pool_channel)
    if channel is None:
        raise Conflict.for_field(
            "message",
            "still nowhere to send it: set the owner's Slack channel "
            "or FEEDBACK_SLACK_DEFAULT_CHANNEL",
        )
    async with write_transaction():
        await Outbox.update(
            {
                Outbox.status: OutboxStatus.pending.value,
                Outbox.channel: channel,
                Outbox.attempts: 0,
                Outbox.failing_since: None,
                Outbox.next_attempt_at: utcnow(),
                Outbox.claimed_until: None,
                Outbox.claimed_by: None,
            }
        ).where(Outbox.id == message_id)
        await audit(actor, "api", "outbox.retry", str(message_id), {"channel": channel})
    notify_delivery()
    return {"id": message_id, "status": OutboxStatus.pending.value, "channel": channel}


async def retry_all(status: str, actor: str, limit: int = 10_000) -> dict[str, Any]:
    """Every dead or unrouted message (of one of those statuses) back to the queue, as
    `retry` does one (after Slack was configured, say); those still with nowhere to go stay
    as they are. How many were queued again, and how many stayed."""
    if status not in (OutboxStatus.dead.value, OutboxStatus.unrouted.value):
        raise InputError("status", "dead or unrouted")
    rows = (
        await Outbox.select(Outbox.id)
        .where(Outbox.status == status)
        .order_by(Outbox.id)
        .limit(limit)
    )
    queued = stayed = 0
    for row in rows:
        try:
            await retry(row["id"], actor)
            queued += 1
        except Conflict:
            stayed += 1
    return {"status": status, "queued": queued, "stayed": stayed}
