"""Background jobs, run by `feedback worker` (any number of them may run at once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.app import forget_old_events
from feedback.accounts.services import apply_due_churn
from feedback.ctas.outbox import enqueue_digests
from feedback.ctas.rules import drain_answer_rules, evaluate_rules, run_answer_rules
from feedback.ctas.services import wake_snoozed
from feedback.health.snapshot import snapshot_job
from feedback.observability import JOB_SECONDS, configure_logging
from feedback.responses.intake import expire_displays

log = logging.getLogger("feedback.worker")

Job = Callable[[], Awaitable[int]]


async def expire_comments() -> int:
    from feedback.lifecycle.services import expire_old_comments
    from feedback.settings import get_settings

    return await expire_old_comments(get_settings().comment_retention_months)


# each job is idempotent and safe to run concurrently in several workers
JOBS: dict[str, Job] = {
    "answer_rules": drain_answer_rules,
    "apply_due_churn": apply_due_churn,
    "expire_displays": expire_displays,
    "health_snapshot": snapshot_job,
    "cta_rules": evaluate_rules,
    "cta_snoozes": wake_snoozed,
    "slack_digests": enqueue_digests,
    "slack_event_ids": forget_old_events,
    "comment_retention": expire_comments,
}


async def run_jobs_once() -> dict[str, int]:
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        try:
            with JOB_SECONDS.labels(name).time():
                done[name] = await job()
        except Exception:  # one failing job must not stop the others
            log.exception("job %s failed", name)
            done[name] = -1
    return done


async def run_worker(interval_seconds: int, once: bool = False) -> None:
    """The jobs every `interval_seconds`; beside them, continuously, the answer rule runner
    and (when Slack is configured) the outbox deliverer."""
    from bot.delivery import Deliverer
    from feedback.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    deliverer = Deliverer(settings) if settings.slack.configured else None
    if once:
        results = await run_jobs_once()
        if deliverer is not None:
            results["slack_sent"] = (await deliverer.deliver_once()).sent
        log.info("jobs ran: %s", results)
        return
    stop = asyncio.Event()
    delivery = asyncio.create_task(deliverer.run(stop)) if deliverer is not None else None
    answers = asyncio.create_task(run_answer_rules(stop))
    try:
        while True:
            results = await run_jobs_once()
            log.info("jobs ran: %s", results)
            await asyncio.sleep(interval_seconds)
    finally:
        stop.set()
        answers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answers
        if delivery is not None:
            await delivery
