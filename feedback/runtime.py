"""What runs in the background of each process: the one place the loops are composed, and
where the Slack bot lends the outbox its message format and its transport.

- `feedback serve` (the app's lifespan, `serve_loops`): the answer rule runner unless
  FEEDBACK_ANSWER_RULES=worker; the outbox deliverer when Slack is configured, unless
  FEEDBACK_SLACK_DELIVERY=worker.
- `feedback serve` with FEEDBACK_JOBS_IN_SERVE=true (scripts/start): also the worker's
  periodic jobs (`periodic_jobs`), so one process is enough on a laptop.
- `feedback worker` (`run_worker`): the periodic jobs every FEEDBACK_WORKER_INTERVAL_SECONDS;
  beside them, continuously, the answer rule runner and, when Slack is configured, the
  deliverer (whatever those two settings say: they only move the loops out of serve).
- Mail to customers (`MailDeliverer`): in `feedback serve` when SMTP is configured, unless
  FEEDBACK_MAIL_DELIVERY=worker; in `feedback worker` whenever SMTP is configured.
- Webhooks (`WebhookDeliverer`: dispatching recorded events, then delivering them): in
  `feedback serve` unless FEEDBACK_WEBHOOK_DELIVERY=worker; always in `feedback worker`.
- `feedback slack socket` (`run_socket_mode`): Slack over Socket Mode, and the deliverer
  unless FEEDBACK_SLACK_DELIVERY=worker.

Several processes may run each loop at once: they share the work through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from bot.app import build_bolt_app, forget_old_events
from bot.blocks import BlockKit
from bot.transport import SlackTransport, make_client
from feedback.ctas.rules import run_answer_rules
from feedback.mail.delivery import MailDeliverer
from feedback.observability import configure_logging
from feedback.outbox.delivery import Deliverer
from feedback.outbox.render import use_format
from feedback.settings import Settings, get_settings
from feedback.webhooks.delivery import WebhookDeliverer
from feedback.worker import JOBS, Job, run_jobs_once

log = logging.getLogger("feedback.worker")

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def use_slack_messages() -> None:
    """Outbox messages are laid out in Slack's Block Kit (the deliverer's messages, the
    admins' preview, the digests)."""
    use_format(BlockKit())


def slack_deliverer(settings: Settings, client: Any = None, **options: Any) -> Deliverer:
    """The outbox deliverer with Slack's Web API as its transport (`client`: a Slack
    AsyncWebClient, by default one for the configured token and API address)."""
    use_slack_messages()
    return Deliverer(settings, SlackTransport(client or make_client(settings)), **options)


@contextlib.asynccontextmanager
async def in_background(loop: Loop, *, cancel: bool = True) -> AsyncIterator[None]:
    """Run `loop(stop)` as a task for the life of the block; at the end set `stop` and
    cancel the task, or (`cancel=False`) let it finish its round and return."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop))
    try:
        yield
    finally:
        stop.set()
        if cancel:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        else:
            await task


@contextlib.asynccontextmanager
async def serve_loops(settings: Settings) -> AsyncIterator[None]:
    """The loops of a `feedback serve` process, for the life of the block. Every serve
    process raises the CTAs of the answers it (or another process) took, several runners
    splitting the queue; the single-machine default is that serve also delivers the
    outbox."""
    async with contextlib.AsyncExitStack() as loops:
        if settings.answer_rules_in_serve:
            await loops.enter_async_context(in_background(run_answer_rules))
        if settings.slack.configured and settings.slack.deliver_in_serve:
            await loops.enter_async_context(in_background(slack_deliverer(settings).run))
        if settings.mail.configured and settings.mail.deliver_in_serve:
            await loops.enter_async_context(in_background(MailDeliverer(settings).run))
        if settings.webhooks.deliver_in_serve:
            await loops.enter_async_context(in_background(WebhookDeliverer(settings).run))
        if settings.jobs_in_serve:
            await loops.enter_async_context(in_background(periodic_jobs(settings)))
        yield


def periodic_jobs(settings: Settings) -> Loop:
    """The worker's periodic jobs as a loop of `feedback serve` (FEEDBACK_JOBS_IN_SERVE):
    one process runs everything on a laptop or for the demo. Every job is safe to run in
    several processes at once, so a worker beside it changes nothing."""

    async def loop(stop: asyncio.Event) -> None:
        jobs = worker_jobs()
        while not stop.is_set():
            results = await run_jobs_once(jobs)
            log.info("jobs ran: %s", results)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.worker_interval_seconds)

    return loop


def worker_jobs() -> dict[str, Job]:
    """The worker's periodic jobs, and the Slack app's: forgetting old event ids."""
    return {**JOBS, "slack_event_ids": forget_old_events}


async def run_worker(interval_seconds: int, once: bool = False) -> None:
    """The jobs every `interval_seconds`; beside them, continuously, the answer rule runner,
    the webhook deliverer and (when configured) the Slack outbox's and the mail deliverers.
    `once`: every job once, then what is queued for Slack, the mail and the webhooks due
    now, and return."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    use_slack_messages()
    jobs = worker_jobs()
    deliverer = slack_deliverer(settings) if settings.slack.configured else None
    mailer = MailDeliverer(settings) if settings.mail.configured else None
    webhooks = WebhookDeliverer(settings)
    if once:
        results = await run_jobs_once(jobs)
        if deliverer is not None:
            results["slack_sent"] = (await deliverer.deliver_once()).sent
        if mailer is not None:
            results["mail_sent"] = (await mailer.deliver_due()).sent
        try:
            results["webhooks_delivered"] = (await webhooks.deliver_due()).delivered
        finally:
            await webhooks.close()
        log.info("jobs ran: %s", results)
        return
    async with contextlib.AsyncExitStack() as loops:
        if deliverer is not None:  # stopped last, after its round
            await loops.enter_async_context(in_background(deliverer.run, cancel=False))
        if mailer is not None:
            await loops.enter_async_context(in_background(mailer.run, cancel=False))
        await loops.enter_async_context(in_background(webhooks.run, cancel=False))
        await loops.enter_async_context(in_background(run_answer_rules))
        while True:
            results = await run_jobs_once(jobs)
            log.info("jobs ran: %s", results)
            await asyncio.sleep(interval_seconds)


async def run_socket_mode(settings: Settings) -> None:
    """Slack over Socket Mode until the connection ends; beside it the outbox deliverer,
    unless FEEDBACK_SLACK_DELIVERY=worker."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    use_slack_messages()
    handler = AsyncSocketModeHandler(build_bolt_app(settings), settings.slack.app_token)
    async with contextlib.AsyncExitStack() as loops:
        if settings.slack.deliver_in_serve:
            deliverer = slack_deliverer(settings)
            await loops.enter_async_context(in_background(deliverer.run, cancel=False))
        await handler.start_async()
