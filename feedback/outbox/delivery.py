"""Delivering the outbox: claim, pace, send through a transport, and record what happened.

- Pacing: a worker sends to a channel only after taking the channel's slot in
  `slack_channel_pace` (an atomic conditional upsert), so all workers together keep to the
  configured interval per channel (Slack allows about one message per second).
- Claiming: a row is claimed with a lease (`claimed_until`); on PostgreSQL with
  `FOR UPDATE SKIP LOCKED`, so two workers never claim the same row. A worker killed after
  claiming loses nothing: the lease runs out and another worker (or the restarted one)
  sends it.
- Failures: a rate limit waits the time the transport was told (for the row and the
  channel); other failures a retry may fix (Slack down or slow, refused connections) back
  off exponentially up to `max_backoff_seconds`; a message keeps retrying for
  `FEEDBACK_SLACK_RETRY_HOURS` after its first failure, then it is `dead` and shown to
  admins with its last error. Failures a retry cannot fix are dead at once. Nothing is
  dropped silently, and an outage of hours loses nothing.
- A CTA's messages are its cards: the first one in a channel is posted, later changes edit
  it, in the conversation Slack said it is in (a direct message to a user U... lives in a
  D... conversation). The card in the owner's channel has the buttons; cards elsewhere
  (an earlier owner's) show the CTA without them. Where the owner's card is is stored on
  the CTA.
- What people and rules did to a CTA is told in replies under its card (kind "thread"),
  since Slack notifies nobody of an edit: a reply is sent once no card message of its CTA
  waits in its channel (so after the card), and dropped when the CTA has no card there. An
  update that shows a worse answer than the card showed adds a reply saying so.

The transport (Slack's Web API: bot/transport.py) plugs in through `Transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from feedback.ctas.actions import show_in_message
from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.db import as_utc_datetime, is_sqlite, json_object, write_transaction
from feedback.db.errors import database_unavailable
from feedback.kernel.clock import Clock, utcnow
from feedback.observability import SLACK_SENDS
from feedback.outbox import queries
from feedback.outbox.enqueue import enqueue_thread_reply, on_enqueue, route
from feedback.outbox.messages import OutboxMessage
from feedback.outbox.render import render_cta, render_stored, render_thread
from feedback.settings import Settings

log = logging.getLogger("feedback.slack")

# how often a write recording a send the transport already made is tried again while the
# database is unreachable
RECORD_RETRY_SECONDS = 0.5

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the transport sends: a new message in `channel` (a channel, or a user for a
    direct message), or (with `ts`) an edit of the message `ts` in the conversation `at`,
    falling back to a new message when that one is gone."""

    kind: str  # "cta", "thread", "digest" or "notice"
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str | None = None
    at: str | None = None  # the conversation of the message `ts` (default: `channel`)
    # a reply: the message it answers (`ts` of the card), in the conversation `at`
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The message the transport sent or edited (`ts`), whether it is a new one, and the
    conversation it is in (`channel`; for a direct message Slack's D... id)."""

    ts: str | None
    posted: bool
    channel: str | None = None


class DeliveryFailed(Exception):
    """A send the transport could not make: `error` is what admins see; `permanent` when a
    retry cannot fix it; `retry_after` (seconds) when the channel is rate limited."""

    def __init__(
        self, error: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.retry_after = retry_after


class Transport(Protocol):
    """Where messages go. Raises `DeliveryFailed` for the failures it recognises; any other
    exception (a time-out, a refused connection) is retried with backoff, as a failure a
    retry may fix."""

    async def send(self, message: Outgoing) -> SendResult: ...


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    dead: int = 0


class Deliverer:
    """One per worker process (and one inside `feedback serve` by default)."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        *,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 300.0,
        max_channels: int = 200,
        claim_concurrency: int = 4,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.interval = timedelta(milliseconds=settings.slack.channel_interval_ms)
        self.lease = timedelta(seconds=lease_seconds or settings.slack.lease_seconds)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_channels = max_channels
        self.claim_concurrency = claim_concurrency
        # "now" for leases, slots and due times, and the wait between tries of a record;
        # tests pass their own
        self.clock = clock
        self._sleep = sleep
        self._wake = asyncio.Event()
        self.totals = Outcome()

    def kick(self) -> None:
        self._wake.set()

    # -- claiming ---------------------------------------------------------------------

    async def claim(self, now: datetime | None = None) -> list[OutboxMessage]:
        """Take the slot of every channel that has a message ready and claim that message
        (without sending: `deliver_once` sends each one as soon as it is claimed)."""
        claimed: list[OutboxMessage] = []
        for channel in await self._ready_channels(now or self.clock()):
            claimed.extend(await self._claim_channel(channel, now))
        return claimed

    async def _ready_channels(self, now: datetime) -> list[str]:
        rows = await queries.READY_CHANNELS.fetch(now, now, now, self.max_channels)
        return [row["channel"] for row in rows]

    async def _claim_channel(self, channel: str, now: datetime | None) -> list[OutboxMessage]:
        """One short transaction per channel: its slot, then its oldest ready message."""
        now = now or self.clock()
        async with write_transaction():
            if not await queries.TAKE_SLOT.fetch(channel, now + self.interval, now):
                return []  # another worker sent to this channel less than an interval ago
            rows = await queries.CLAIM.fetch(
                self.worker_id, now + self.lease, channel, now, now, now
            )
        return [OutboxMessage.from_row(row) for row in rows]

    async def next_due(self) -> datetime | None:
        row = await queries.NEXT_DUE.first()
        return as_utc_datetime(row["due"]) if row else None

    # -- sending ----------------------------------------------------------------------

    async def deliver_once(self, now: datetime | None = None) -> Outcome:
        """Claim and send what is ready. Each message is sent the moment its channel is
        claimed, so the time between a slot and its send stays small and even."""
        sends: list[asyncio.Task[str]] = []
        # channels are independent: claim several at once on PostgreSQL (row locks keep
        # them apart); SQLite has one writer, so there they go one after another
        gate = asyncio.Semaphore(1 if is_sqlite() else self.claim_concurrency)

        async def claim_and_send(channel: str) -> None:
            async with gate:
                messages = await self._claim_channel(channel, now)
            for message in messages:
                sends.append(asyncio.create_task(self.send(message, now or self.clock())))

        channels = await self._ready_channels(now or self.clock())
        await asyncio.gather(*(claim_and_send(channel) for channel in channels))
        outcome = Outcome()
        for result in await asyncio.gather(*sends):
            SLACK_SENDS.labels(result).inc()
            setattr(outcome, result, getattr(outcome, result) + 1)
            setattr(self.totals, result, getattr(self.totals, result) + 1)
        return outcome

    async def send(self, message: OutboxMessage, now: datetime) -> str:
        """Send one claimed message and record the outcome: sent, retried or dead."""
        try:
            where = await self._paced(message)
        except DeliveryFailed as failure:
            if failure.retry_after is not None:
                return await self._transient(
                    message, now, f"rate limited: {failure.error}", failure.retry_after
                )
            if failure.permanent:
                await self._dead(message, now, failure.error)
                return "dead"
            return await self._transient(message, now, failure.error)
        except Exception as exc:  # time-outs, refused connections, ...: all retried
            return await self._transient(message, now, f"{type(exc).__name__}: {exc}".strip(": "))
        await self._sent(message, now, where)
        return "sent"

    async def _paced(self, message: OutboxMessage) -> SendResult:
        """Send, then move the channel's next slot to an interval after the moment the
        request left: the slot taken at claim time alone would let a slow send and a quick
        one land closer together than the interval."""
        began = self.clock()
        try:
            return await self._deliver(message)
        finally:
            if self.interval:
                slot = began + self.interval
                await self._record(lambda: queries.PACE_AFTER_SEND.run(slot, message.channel, slot))

    async def _deliver(self, message: OutboxMessage) -> SendResult:
        """The message through the transport. A CTA's message edits its card in the channel
        (or posts the first one); the card in the owner's channel, with buttons, is the
        CTA's message, and cards elsewhere show it without buttons."""
        channel = message.channel
        assert channel is not None  # only routed messages are claimed
        if message.kind == "thread":
            return await self._reply(message, channel)
        if message.kind != "cta":
            rendered = render_stored(message)
            return await self.transport.send(
                Outgoing(message.kind, channel, rendered.text, rendered.blocks)
            )
        cta = await load_cta(message.cta) if message.cta is not None else None
        if cta is None:
            return SendResult(None, posted=False)  # the account was erased; nothing to show
        owners = channel == route(cta.owner_channel, cta.owner_slack_user, cta.pool_channel)
        rendered = await render_cta(cta, self.settings.public_url, current=owners)
        card = await queries.CARD.first(cta.id, channel)
        sent = await self.transport.send(
            Outgoing(
                message.kind,
                channel,
                rendered.text,
                rendered.blocks,
                ts=card["slack_ts"] if card else None,
                at=card["slack_channel"] if card else None,
            )
        )
        where = sent.channel or (card["slack_channel"] if card and not sent.posted else channel)
        sent = SendResult(sent.ts, sent.posted, where)
        if (owners or cta.slack_ts is None) and (cta.slack_channel, cta.slack_ts) != (
            where,
            sent.ts,
        ):
            # the owner's card is the CTA's message from now on
            await self._record(lambda: show_in_message(cta.id, where, sent.ts))
        await self._shown(message, cta, card["payload"] if card and not sent.posted else None)
        return sent

    async def _shown(
        self, message: OutboxMessage, cta: CtaView, before: dict[str, Any] | str | None
    ) -> None:
        """Record what the card shows now (the answer), and when it shows a worse answer
        than it did before, queue a reply saying so: Slack notifies nobody of an edit."""
        trigger = cta.trigger
        if trigger.get("kind") != "response" or not isinstance(trigger.get("score"), int):
            return
        shown = {"response_id": trigger.get("response_id"), "score": trigger["score"]}
        await self._record(lambda: queries.SET_SHOWN.run(json.dumps(shown), message.id))
        was = json_object(before).get("score") if before is not None else None
        if not isinstance(was, int) or trigger["score"] >= was or cta.status == "closed":
            return
        event = {
            "action": "answer",
            "actor": str(trigger.get("user") or ""),
            "source": "rule",
            "note": str(trigger.get("comment") or ""),
            "data": {**trigger, "from_score": was},
            "at": self.clock(),
        }
        await self._record(lambda: enqueue_thread_reply(cta.id, event, self.clock()))

    async def _reply(self, message: OutboxMessage, channel: str) -> SendResult:
        """A reply under the CTA's card in the channel (in the conversation the card is in);
        nothing when the CTA is gone or has no card there (it was never posted: dead)."""
        cta = await load_cta(message.cta) if message.cta is not None else None
        card = await queries.CARD.first(cta.id, channel) if cta is not None else None
        if cta is None or card is None:
            if cta is not None and await queries.CARD_WAITING.first(cta.id, channel):
                raise DeliveryFailed("waiting for the CTA's card to be posted")
            return SendResult(None, posted=False)
        rendered = await render_thread(cta, message.payload, self.settings.public_url)
        return await self.transport.send(
            Outgoing(
                message.kind,
                channel,
                rendered.text,
                rendered.blocks,
                at=card["slack_channel"],
                thread_ts=card["slack_ts"],
            )
        )

    async def _record(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """A write that records what the transport has already done. While the database is
        unreachable it is tried again (for up to half the lease) instead of failing the
        send: a failed send is sent again once the lease runs out, and the channel would
        see the message twice."""
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds() / 2
        while True:
            try:
                return await write()
            except Exception as exc:
                if not database_unavailable(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
                await self._sleep(RECORD_RETRY_SECONDS)

    async def _sent(self, message: OutboxMessage, now: datetime, sent: SendResult) -> None:
        await self._record(
            lambda: queries.MARK_SENT.run(now, sent.ts, sent.channel, message.id, self.worker_id)
        )

    async def _retry_later(
        self, message: OutboxMessage, now: datetime, seconds: float, error: str, count: bool = True
    ) -> None:
        later = now + timedelta(seconds=seconds)
        retry = queries.RETRY_LATER if count else queries.RETRY_LATER_UNCOUNTED
        async with write_transaction():
            await retry.run(later, error[:2000], now, message.id, self.worker_id)
            if not count:  # a rate limit holds the whole channel, for every worker
                await queries.HOLD_CHANNEL.run(later, message.channel)

    async def _transient(
        self, message: OutboxMessage, now: datetime, error: str, retry_after: float | None = None
    ) -> str:
        """A failure a retry may fix: try again later (after `retry_after` for a rate limit,
        else with capped exponential backoff), until the retry horizon has passed since the
        message's first failure."""
        since = message.failing_since or now
        horizon = timedelta(hours=self.settings.slack.retry_hours)
        if now - since >= horizon:
            hours = self.settings.slack.retry_hours
            await self._dead(message, now, f"failing for over {hours} h: {error}")
            return "dead"
        if retry_after is not None:
            await self._retry_later(message, now, retry_after, error, count=False)
            return "retried"
        exponent = min(max(message.attempts - 1, 0), 30)
        delay = min(self.backoff_seconds * 2**exponent, self.max_backoff_seconds)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        await self._retry_later(message, now, delay, error)
        log.warning("slack: outbox %s attempt %s failed: %s", message.id, message.attempts, error)
        return "retried"

    async def _dead(self, message: OutboxMessage, now: datetime, error: str) -> None:
        log.error("slack: outbox %s is dead: %s", message.id, error)
        await queries.MARK_DEAD.run(error[:2000], message.id, self.worker_id)

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set. Sleeps until the next message or channel slot is due,
        at most `idle_seconds` (rows queued by other processes), or until a message is queued
        in this process."""
        stop_listening = on_enqueue(self.kick)
        try:
            while not stop.is_set():
                try:
                    await self.deliver_once()
                    due = await self.next_due()
                except Exception:  # the database restarting must not end the loop
                    log.exception("slack: delivery round failed")
                    due = None
                wait = idle_seconds
                if due is not None:
                    wait = min(max((due - self.clock()).total_seconds(), 0.0), idle_seconds)
                self._wake.clear()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=wait)
        finally:
            stop_listening()
