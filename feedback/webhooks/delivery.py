"""Delivering webhooks with the outbox's guarantees (docs/design/webhook-delivery.md):

- Claiming: a batch of due deliveries is claimed with a lease (`claimed_until`); on
  PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite inside an IMMEDIATE transaction, so two
  workers never claim the same delivery. A worker killed mid-send loses nothing: its lease
  runs out and another worker sends the delivery again (at least once; the receiver tells
  a repeat by the event id).
- Sending: a POST of the frozen payload, signed (`signing`), to the endpoint's URL through
  a resolver that refuses private addresses (`addresses`), no redirects followed, within
  FEEDBACK_WEBHOOK_TIMEOUT_SECONDS. Several deliveries of a batch are in flight at once.
- Outcomes: 2xx is delivered. 408, 429, 5xx, a timeout or no connection is retried with
  capped exponential backoff and jitter (Retry-After honoured up to the cap) until
  FEEDBACK_WEBHOOK_RETRY_HOURS after the delivery's first failure, then dead. Any other
  answer (a 4xx such as 410, a 3xx redirect) and a refused address are dead at once.
- Switch-off: when a failure leaves an endpoint with no success for
  FEEDBACK_WEBHOOK_DISABLE_AFTER_HOURS since its deliveries began failing, the endpoint is
  switched off in the same transaction, its waiting deliveries are dead, and the admins are
  told (a Slack notice and an audit entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from feedback import __version__
from feedback.db import as_utc_datetime, is_sqlite, write_transaction
from feedback.kernel.clock import Clock, utcnow
from feedback.settings import Settings
from feedback.surveys.identity_secrets import unseal
from feedback.webhooks import queries
from feedback.webhooks.addresses import AddressRefused, GuardedResolver, check_literal_host
from feedback.webhooks.dispatch import Renderer, body_of, dispatch_events
from feedback.webhooks.events import notify_deliverers, on_event
from feedback.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("feedback.webhooks")

USER_AGENT = f"feedback-webhooks/{__version__}"
RETRY_STATUSES = frozenset({408, 429})
BODY_EXCERPT = 200
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def backoff_seconds(
    attempts: int,
    base: float = 30.0,
    cap: float = 3600.0,
    retry_after: float | None = None,
    jitter: float | None = None,
) -> float:
    """How long to wait after the `attempts`-th failed attempt: `base` doubling with each
    attempt, times a jitter between 0.8 and 1.2 (so a burst of failures does not come back
    as a burst), never above `cap`. A receiver's Retry-After is honoured up to the cap."""
    exponent = min(max(attempts - 1, 0), 30)
    if jitter is None:
        jitter = random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
    delay = base * 2**exponent * jitter
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(delay, cap)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    attempts: int
    failing_since: datetime | None
    endpoint: int
    url: str
    secret_sealed: str
    active: bool
    event_id: int
    event_type: str
    data: Any

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedDelivery:
        return cls(
            id=int(row["id"]),
            attempts=int(row["attempts"]),
            failing_since=as_utc_datetime(row["failing_since"]),
            endpoint=int(row["endpoint"]),
            url=row["url"],
            secret_sealed=row["secret_sealed"] or "",
            active=bool(row["active"]),
            event_id=int(row["event_id"]),
            event_type=row["type"],
            data=row["data"],
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt came to: `status` the receiver's HTTP status (None without an
    answer), `error` what to show admins, `retry` whether another attempt may help,
    `retry_after` the receiver's Retry-After in seconds."""

    ok: bool
    status: int | None = None
    error: str = ""
    retry: bool = False
    retry_after: float | None = None


def judge(status: int, body: str, retry_after: float | None = None) -> Attempt:
    """An HTTP answer's outcome: 2xx delivered; 408, 429 and 5xx retried; anything else
    (other 4xx, a redirect, which is not followed) dead at once."""
    if 200 <= status < 300:
        return Attempt(ok=True, status=status)
    excerpt = " ".join(body[:BODY_EXCERPT].split())
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 300 <= status < 400:
        error += " (redirects are not followed: register the final URL)"
    retry = status in RETRY_STATUSES or status >= 500
    return Attempt(ok=False, status=status, error=error, retry=retry, retry_after=retry_after)


@dataclass
class Outcome:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    lost: int = 0  # the lease ran out before the outcome was written; another worker has it
    switched_off: list[int] = field(default_factory=list)


class WebhookDeliverer:
    """One per worker process (and one inside `feedback serve` by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        batch_size: int = 50,
        concurrency: int = 16,
        backoff_base_seconds: float = 30.0,
        max_backoff_seconds: float = 3600.0,
        render: Renderer | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.config = settings.webhooks
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = timedelta(seconds=self.config.lease_seconds)
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.backoff_base_seconds = backoff_base_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.render = render
        self.clock = clock
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self.totals = Outcome()

    def kick(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.config.allow_private),
                limit=self.concurrency * 2,
                ttl_dns_cache=10,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                trust_env=False,  # no proxy from the environment: the address guard must hold
                auto_decompress=True,
            )
        return self._session

    # -- claiming ---------------------------------------------------------------------

    async def claim(self, now: datetime) -> list[ClaimedDelivery]:
        async with write_transaction():
            rows = await queries.CLAIM.fetch(
                self.worker_id, now + self.lease, now, now, self.batch_size
            )
            if not rows:
                return []
            ids = [int(row["id"]) for row in rows]
            claimed = await queries.CLAIMED.fetch(
                json.dumps(ids) if is_sqlite() else ids, self.worker_id
            )
        return [ClaimedDelivery.from_row(row) for row in claimed]

    # -- sending ----------------------------------------------------------------------

    async def deliver_once(self) -> Outcome:
        """Claim a batch of due deliveries, send them several at once, and record what came
        of them in one write transaction (one turn at SQLite's write lock per batch, not one
        per delivery: a worker killed before it is written sends the batch again once the
        lease runs out, which the receivers' de-duplication by event id absorbs)."""
        outcome = Outcome()
        now = self.clock()
        deliveries = await self.claim(now)
        if not deliveries:
            return outcome
        lease_end = now + self.lease
        # an attempt started later could not be recorded before the lease runs out
        last_start = lease_end - timedelta(seconds=self.config.timeout_seconds + 5)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(delivery: ClaimedDelivery) -> Attempt | None:
            async with gate:
                if self.clock() >= last_start:
                    return None  # given back untried
                return await self.attempt(delivery)

        attempts = await asyncio.gather(*(one(delivery) for delivery in deliveries))
        try:
            await self._record(list(zip(deliveries, attempts, strict=True)), outcome)
        except Exception:  # the lease runs out and the batch is sent again
            log.exception("webhooks: recording %s attempts failed", len(deliveries))
            outcome.lost += len(deliveries)
        for name in ("delivered", "retried", "dead", "released", "lost"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(outcome, name))
        self.totals.switched_off += outcome.switched_off
        return outcome

    async def attempt(self, delivery: ClaimedDelivery) -> Attempt:
        """Send a claimed delivery, unless its endpoint was switched off or its secret
        cannot be read: what came of it."""
        if not delivery.active:
            return Attempt(ok=False, error="not sent: the endpoint is switched off")
        secret = unseal(delivery.secret_sealed)
        if secret is None:
            return Attempt(
                ok=False,
                error="not sent: the endpoint's secret cannot be read "
                "(was FEEDBACK_SECRET_KEY changed?); rotate its secret",
            )
        return await self.send(delivery, secret)

    async def send(self, delivery: ClaimedDelivery, secret: str) -> Attempt:
        """One POST of the delivery's payload: what came of it."""
        body = body_of(delivery.data)
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Feedback-Event-Id": f"evt_{delivery.event_id}",
            "Feedback-Event-Type": delivery.event_type,
            "Feedback-Delivery-Attempt": str(delivery.attempts),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            check_literal_host(urlsplit(delivery.url).hostname or "", self.config.allow_private)
            async with self._http().post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                text = await _excerpt(response)
                after = retry_after_seconds(response.headers.get("Retry-After"), self.clock())
                return judge(response.status, text, after)
        except AddressRefused as exc:
            return Attempt(ok=False, error=exc.message)
        except TimeoutError:
            seconds = self.config.timeout_seconds
            return Attempt(ok=False, error=f"no answer within {seconds} s", retry=True)
        except aiohttp.ClientConnectorError as exc:
            return Attempt(ok=False, error=f"cannot connect: {exc}"[:500], retry=True)
        except (aiohttp.ClientError, OSError) as exc:
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:500], retry=True)

    async def _record(
        self, results: list[tuple[ClaimedDelivery, Attempt | None]], outcome: Outcome
    ) -> None:
        """What came of a batch, in one write transaction; then, for each endpoint that
        failed, whether it has failed long enough to be switched off. A delivery whose lease
        was lost meanwhile (another worker has it) is left alone."""
        now = self.clock()
        hours = self.config.retry_hours
        counts = {"delivered": 0, "retried": 0, "dead": 0, "released": 0, "lost": 0}
        failing: set[int] = set()
        async with write_transaction():
            for delivery, attempt in results:
                if attempt is None:
                    await queries.RELEASE.run(delivery.id, self.worker_id)
                    counts["released"] += 1
                    continue
                if attempt.ok:
                    row = await queries.MARK_DELIVERED.first(
                        now, attempt.status, delivery.id, self.worker_id
                    )
                    counts["delivered" if row else "lost"] += 1
                    continue
                error, retry = attempt.error, attempt.retry
                since = delivery.failing_since or now
                if retry and now - since >= timedelta(hours=hours):
                    retry, error = False, f"failing for over {hours} h: {error}"
                if retry:
                    delay = backoff_seconds(
                        delivery.attempts,
                        self.backoff_base_seconds,
                        self.max_backoff_seconds,
                        attempt.retry_after,
                    )
                    row = await queries.MARK_RETRY.first(
                        now + timedelta(seconds=delay),
                        attempt.status,
                        error[:2000],
                        now,
                        delivery.id,
                        self.worker_id,
                    )
                else:
                    row = await queries.MARK_DEAD.first(
                        attempt.status, error[:2000], now, delivery.id, self.worker_id
                    )
                if row is None:
                    counts["lost"] += 1
                    continue
                counts["retried" if retry else "dead"] += 1
                failing.add(delivery.endpoint)
                level = logging.WARNING if retry else logging.ERROR
                log.log(
                    level,
                    "webhook delivery %s (attempt %s): %s",
                    delivery.id,
                    delivery.attempts,
                    error,
                )
            for endpoint in sorted(failing):
                if await self._switch_off_if_failing(endpoint, now):
                    outcome.switched_off.append(endpoint)
        for name, count in counts.items():
            setattr(outcome, name, getattr(outcome, name) + count)

    async def _switch_off_if_failing(self, endpoint: int, now: datetime) -> bool:
        """In the caller's transaction: switch the endpoint off when its deliveries have all
        failed for FEEDBACK_WEBHOOK_DISABLE_AFTER_HOURS with no success since."""
        row = await queries.FAILING_SINCE.first(endpoint, endpoint, NEVER)
        since = as_utc_datetime(row["since"]) if row else None
        hours = self.config.disable_after_hours
        if since is None or now - since < timedelta(hours=hours):
            return False
        return await switch_off(
            endpoint,
            f"switched off by the service: every delivery failed for {hours} h "
            f"(since {since:%Y-%m-%d %H:%M} UTC)",
            now,
        )

    # -- the loop -------------------------------------------------------------------------

    async def round(self) -> Outcome:
        """Dispatch the new events, then send a batch of due deliveries."""
        await dispatch_events(self.render, self.clock)
        return await self.deliver_once()

    async def deliver_due(self, rounds: int = 1000) -> Outcome:
        """Rounds until nothing is due now (`feedback worker --once`, tests)."""
        total = Outcome()
        for _ in range(rounds):
            outcome = await self.round()
            for name in ("delivered", "retried", "dead", "released", "lost"):
                setattr(total, name, getattr(total, name) + getattr(outcome, name))
            total.switched_off += outcome.switched_off
            if not (outcome.delivered or outcome.retried or outcome.dead or outcome.released):
                break
        return total

    async def run(self, stop: asyncio.Event, idle_seconds: float = 2.0) -> None:
        """Deliver until `stop` is set: round after round while deliveries are due, then
        wait for `idle_seconds` (events of other processes, retries coming due) or until
        this process records an event (looked at again shortly after: the recording
        transaction may not have committed when it wakes this loop)."""
        stop_listening = on_event(self.kick)
        soon = False
        try:
            while not stop.is_set():
                busy = False
                try:
                    outcome = await self.round()
                    busy = bool(outcome.delivered or outcome.retried or outcome.dead)
                except Exception:  # the database restarting must not end the loop
                    log.exception("webhooks: delivery round failed")
                if busy:
                    continue
                if self._wake.is_set():
                    soon = True
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                timeout = 0.2 if soon else idle_seconds
                soon = False
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
        finally:
            stop_listening()
            await self.close()


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the receiver's answer, for the delivery log (never more than a few KB
    read, whatever it sends)."""
    with contextlib.suppress(Exception):
        chunk = await response.content.read(4096)
        return chunk.decode("utf-8", "replace")
    return ""


async def switch_off(endpoint: int, reason: str, now: datetime) -> bool:
    """In the caller's transaction: switch an endpoint off for `reason`, make its waiting
    deliveries dead, and tell the admins (a Slack notice, an audit entry). False when it was
    off already."""
    from feedback.auth.services import audit
    from feedback.outbox.enqueue import enqueue_notice

    row = await queries.SWITCH_OFF.first(reason, now, now, endpoint)
    if row is None:
        return False
    await queries.KILL_WAITING.run(f"not sent: the endpoint was {reason}", now, endpoint)
    await enqueue_notice(
        None,
        f"Webhook endpoint {row['url']} was {reason}. Fix the receiver, then switch it on "
        "again on the Webhooks page and send the dead deliveries again.",
        f"webhook-off:{endpoint}:{now:%Y%m%dT%H%M%S}",
        now,
    )
    await audit("service", "webhooks", "webhook.switch_off", str(endpoint), {"reason": reason})
    log.error("webhook endpoint %s (%s) %s", endpoint, row["url"], reason)
    return True


# -- for the endpoints' API and page ------------------------------------------------------


async def replay_delivery(delivery_id: int, now: datetime) -> bool:
    """Send a dead or delivered delivery again (its attempts kept, its failure clock reset):
    False when there is no such delivery or it is waiting or being sent already. The body is
    the one frozen at dispatch, byte for byte, with the same event id."""
    async with write_transaction():
        row = await queries.REPLAY.first(now, delivery_id)
    if row is not None:
        notify_deliverers()
    return row is not None


async def retry_endpoint(endpoint_id: int, now: datetime) -> int:
    """Send every dead delivery of an endpoint again: how many."""
    async with write_transaction():
        rows = await queries.REPLAY_DEAD_OF_ENDPOINT.fetch(now, endpoint_id)
    if rows:
        notify_deliverers()
    return len(rows)
