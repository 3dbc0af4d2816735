"""The outbox deliverer: sends queued CTA messages and digests to Slack.

- Pacing: a worker sends to a channel only after taking the channel's slot in
  `slack_channel_pace` (an atomic conditional upsert), so all workers together keep to the
  configured interval per channel (Slack allows about one message per second).
- Claiming: a row is claimed with a lease (`claimed_until`); on PostgreSQL with
  `FOR UPDATE SKIP LOCKED`, so two workers never claim the same row. A worker killed after
  claiming loses nothing: the lease runs out and another worker (or the restarted one)
  sends it.
- Failures: 429 waits `Retry-After` (for the row and the channel); 5xx, time-outs and
  connection errors back off exponentially; after `max_attempts` the row is `dead` and shown
  to admins with its last error; errors that a retry cannot fix (channel_not_found,
  invalid_auth, ...) are dead at once. Nothing is dropped silently.
- A CTA's first message is `chat.postMessage`; its `ts` is stored on the CTA and later
  changes use `chat.update` on that message.
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
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import cta_blocks
from feedback.ctas.models import Cta, Outbox, OutboxStatus
from feedback.ctas.services import cta_types, load_cta, on_enqueue, route
from feedback.db import as_utc_datetime, is_sqlite, write_transaction
from feedback.errors import database_unavailable
from feedback.kernel.clock import utcnow
from feedback.observability import SLACK_SENDS
from feedback.settings import Settings

log = logging.getLogger("feedback.slack")

# how often a write recording a send Slack already took is tried again while the database
# is unreachable
RECORD_RETRY_SECONDS = 0.5
# errors a retry will not fix: the message is dead at once, with the error for admins
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "no_permission",
    "missing_scope",
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "restricted_action",
    "user_not_found",
}

# a row is ready when it is pending and due, or claimed by a worker whose lease ran out, and
# no other message of its CTA is being sent to its channel under a live lease: the CTA's next
# version waits for the first post, whose `ts` it must update (two workers sending both
# versions at once would post it twice)
_NOT_SENDING_ITS_CTA = """
  AND NOT EXISTS (SELECT 1 FROM outbox s
                  WHERE s.cta = o.cta AND s.channel = o.channel AND s.id <> o.id
                    AND s.status = 'sending' AND s.claimed_until >= {})"""
_READY_CHANNELS_SQL = f"""
SELECT o.channel, MIN(o.id) AS first_id FROM outbox o
WHERE o.channel IS NOT NULL
  AND ((o.status = 'pending' AND o.next_attempt_at <= {{}})
       OR (o.status = 'sending' AND o.claimed_until < {{}})){_NOT_SENDING_ITS_CTA}
GROUP BY o.channel ORDER BY first_id LIMIT {{}}
"""  # noqa: S608 (constants)

_TAKE_SLOT_SQL = """
INSERT INTO slack_channel_pace (channel, next_send_at) VALUES ({}, {})
ON CONFLICT (channel) DO UPDATE SET next_send_at = excluded.next_send_at
WHERE slack_channel_pace.next_send_at <= {}
RETURNING channel
"""

_CLAIM_SQL = f"""
UPDATE outbox SET status = 'sending', claimed_by = {{}}, claimed_until = {{}},
                  attempts = attempts + 1
WHERE id = (SELECT o.id FROM outbox o WHERE o.channel = {{}}
              AND ((o.status = 'pending' AND o.next_attempt_at <= {{}})
                   OR (o.status = 'sending' AND o.claimed_until < {{}})){_NOT_SENDING_ITS_CTA}
            ORDER BY o.id LIMIT 1 __LOCK__)
RETURNING id, kind, cta, channel, payload, attempts
"""  # noqa: S608 (constants)

_PACE_AFTER_SEND_SQL = """
UPDATE slack_channel_pace SET next_send_at = {} WHERE channel = {} AND next_send_at < {}
"""

_SENT_SQL = """
UPDATE outbox SET status = 'sent', sent_at = {}, slack_ts = {}, claimed_until = NULL,
                  last_error = '' WHERE id = {} AND claimed_by = {}
"""

_CTA_MESSAGE_SQL = "UPDATE cta SET slack_channel = {}, slack_ts = {} WHERE id = {}"

_LAST_TS_SQL = """
SELECT slack_ts FROM outbox WHERE cta = {} AND channel = {} AND slack_ts IS NOT NULL
ORDER BY id DESC LIMIT 1
"""

_NEXT_DUE_SQL = """
SELECT MIN(CASE WHEN o.status = 'sending' THEN o.claimed_until
                WHEN p.next_send_at IS NOT NULL AND p.next_send_at > o.next_attempt_at
                THEN p.next_send_at ELSE o.next_attempt_at END) AS due
FROM outbox o LEFT JOIN slack_channel_pace p ON p.channel = o.channel
WHERE o.status IN ('pending', 'sending') AND o.channel IS NOT NULL
"""


def make_client(settings: Settings, timeout: int = 10) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.slack.bot_token, base_url=settings.slack.api_url, timeout=timeout
    )


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
        client: AsyncWebClient | None = None,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 300.0,
        max_channels: int = 200,
        claim_concurrency: int = 4,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.interval = timedelta(milliseconds=settings.slack.channel_interval_ms)
        self.lease = timedelta(seconds=lease_seconds or settings.slack.lease_seconds)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_channels = max_channels
        self.claim_concurrency = claim_concurrency
        self._wake = asyncio.Event()
        self.totals = Outcome()

    def kick(self) -> None:
        self._wake.set()

    # -- claiming ---------------------------------------------------------------------

    async def claim(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Take the slot of every channel that has a message ready and claim that message
        (without sending: `deliver_once` sends each one as soon as it is claimed)."""
        claimed: list[dict[str, Any]] = []
        for channel in await self._ready_channels(now or utcnow()):
            claimed.extend(await self._claim_channel(channel, now))
        return claimed

    async def _ready_channels(self, now: datetime) -> list[str]:
        rows = await Outbox.raw(_READY_CHANNELS_SQL, now, now, now, self.max_channels)
        return [row["channel"] for row in rows]

    async def _claim_channel(self, channel: str, now: datetime | None) -> list[dict[str, Any]]:
        """One short transaction per channel: its slot, then its oldest ready message."""
        now = now or utcnow()
        lock = "" if is_sqlite() else "FOR UPDATE SKIP LOCKED"
        async with write_transaction():
            slot = await Outbox.raw(_TAKE_SLOT_SQL, channel, now + self.interval, now)
            if not slot:
                return []  # another worker sent to this channel less than an interval ago
            return await Outbox.raw(
                _CLAIM_SQL.replace("__LOCK__", lock),
                self.worker_id,
                now + self.lease,
                channel,
                now,
                now,
                now,
            )

    async def next_due(self) -> datetime | None:
        rows = await Outbox.raw(_NEXT_DUE_SQL)
        return as_utc_datetime(rows[0]["due"]) if rows else None

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
                rows = await self._claim_channel(channel, now)
            for row in rows:
                sends.append(asyncio.create_task(self._send(row, now or utcnow())))

        channels = await self._ready_channels(now or utcnow())
        await asyncio.gather(*(claim_and_send(channel) for channel in channels))
        outcome = Outcome()
        for result in await asyncio.gather(*sends):
            SLACK_SENDS.labels(result).inc()
            setattr(outcome, result, getattr(outcome, result) + 1)
            setattr(self.totals, result, getattr(self.totals, result) + 1)
        return outcome

    async def _send(self, row: dict[str, Any], now: datetime) -> str:
        try:
            ts = await self._paced(row)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status == 429:
                retry_after = _retry_after(exc.response.headers)
                await self._retry_later(
                    row, now, retry_after, f"rate limited: {error}", count=False
                )
                return "retried"
            if status < 500 and error in PERMANENT_ERRORS:
                await self._dead(row, now, error)
                return "dead"
            return await self._transient(row, now, error)
        except Exception as exc:  # time-outs, refused connections, ...: all retried
            return await self._transient(row, now, f"{type(exc).__name__}: {exc}".strip(": "))
        await self._sent(row, now, ts)
        return "sent"

    async def _paced(self, row: dict[str, Any]) -> str | None:
        """Call Slack, then move the channel's next slot to an interval after the moment the
        request left: the slot taken at claim time alone would let a slow send and a quick
        one land closer together than the interval."""
        began = utcnow()
        try:
            return await self._call_slack(row)
        finally:
            if self.interval:
                slot = began + self.interval
                await self._record(
                    lambda: Outbox.raw(_PACE_AFTER_SEND_SQL, slot, row["channel"], slot)
                )

    async def _record(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """A write that records what Slack has already done. While the database is
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
                await asyncio.sleep(RECORD_RETRY_SECONDS)

    async def _call_slack(self, row: dict[str, Any]) -> str | None:
        channel = row["channel"]
        if row["kind"] != "cta":
            payload = _payload(row)
            result = await self.client.chat_postMessage(
                channel=channel, text=payload.get("text", ""), blocks=payload.get("blocks")
            )
            return result.get("ts")
        cta = await load_cta(row["cta"])
        if cta is None:
            return None  # the account was erased; nothing to show
        types = await cta_types()
        text, blocks = cta_blocks(cta, self.settings.public_url, types.get(cta["type"], "CTA"))
        # the message this CTA already has in this channel, if any
        if cta["slack_channel"] == channel:
            ts = cta["slack_ts"]
        else:
            earlier = await Outbox.raw(_LAST_TS_SQL, cta["id"], channel)
            ts = earlier[0]["slack_ts"] if earlier else None
        if ts:
            try:
                await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
                return ts
            except SlackApiError as exc:
                if exc.response.get("error") != "message_not_found":
                    raise
        result = await self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
        ts = result.get("ts")
        if cta["slack_ts"] is None or channel == route(
            cta["owner_channel"], cta["owner_slack_user"]
        ):
            # the owner's message is the CTA's message from now on
            await self._record(lambda: Cta.raw(_CTA_MESSAGE_SQL, channel, ts, cta["id"]))
        return ts

    async def _sent(self, row: dict[str, Any], now: datetime, ts: str | None) -> None:
        # plain SQL on the per-message path: Piccolo's query building cost more CPU than
        # the statement itself when thousands of messages are waiting
        await self._record(lambda: Outbox.raw(_SENT_SQL, now, ts, row["id"], self.worker_id))

    async def _retry_later(
        self, row: dict[str, Any], now: datetime, seconds: float, error: str, count: bool = True
    ) -> None:
        later = now + timedelta(seconds=seconds)
        async with write_transaction():
            values: dict[Any, Any] = {
                Outbox.status: OutboxStatus.pending.value,
                Outbox.next_attempt_at: later,
                Outbox.claimed_until: None,
                Outbox.last_error: error[:2000],
            }
            if not count:
                values[Outbox.attempts] = Outbox.attempts - 1
            await Outbox.update(values).where(
                (Outbox.id == row["id"]) & (Outbox.claimed_by == self.worker_id)
            )
            if not count:  # a 429 holds the whole channel, for every worker
                await Outbox.raw(
                    "UPDATE slack_channel_pace SET next_send_at = {} WHERE channel = {}",
                    later,
                    row["channel"],
                )

    async def _transient(self, row: dict[str, Any], now: datetime, error: str) -> str:
        if row["attempts"] >= self.settings.slack.max_attempts:
            await self._dead(row, now, f"after {row['attempts']} attempts: {error}")
            return "dead"
        delay = min(self.backoff_seconds * 2 ** (row["attempts"] - 1), self.max_backoff_seconds)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        await self._retry_later(row, now, delay, error)
        log.warning("slack: outbox %s attempt %s failed: %s", row["id"], row["attempts"], error)
        return "retried"

    async def _dead(self, row: dict[str, Any], now: datetime, error: str) -> None:
        log.error("slack: outbox %s is dead: %s", row["id"], error)
        await Outbox.update(
            {
                Outbox.status: OutboxStatus.dead.value,
                Outbox.claimed_until: None,
                Outbox.last_error: error[:2000],
            }
        ).where((Outbox.id == row["id"]) & (Outbox.claimed_by == self.worker_id))

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set. Sleeps until the next message or channel slot is due,
        at most `idle_seconds` (rows queued by other processes), or until kicked."""
        on_enqueue(self.kick)
        while not stop.is_set():
            try:
                await self.deliver_once()
                due = await self.next_due()
            except Exception:  # the database restarting must not end the loop
                log.exception("slack: delivery round failed")
                due = None
            wait = idle_seconds
            if due is not None:
                wait = min(max((due - utcnow()).total_seconds(), 0.0), idle_seconds)
            self._wake.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)


def _retry_after(headers: Any) -> float:
    try:
        return max(float(headers.get("Retry-After") or headers.get("retry-after") or 1), 0.0)
    except (TypeError, ValueError):
        return 1.0


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    payload = row["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload or {}
