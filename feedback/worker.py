"""The worker's periodic jobs. `feedback worker` runs them every interval (feedback/runtime.py
composes them with the loops that run beside them); any number of workers may run at once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from feedback.accounts.services import apply_due_churn
from feedback.ctas.actions import wake_snoozed
from feedback.ctas.rules import drain_answer_rules, evaluate_rules
from feedback.health.snapshot import snapshot_job
from feedback.observability import JOB_SECONDS
from feedback.outbox.digests import enqueue_digests
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
    "comment_retention": expire_comments,
}


async def run_jobs_once(jobs: Mapping[str, Job] = JOBS) -> dict[str, int]:
    done: dict[str, int] = {}
    for name, job in jobs.items():
        try:
            with JOB_SECONDS.labels(name).time():
                done[name] = await job()
        except Exception:  # one failing job must not stop the others
            log.exception("job %s failed", name)
            done[name] = -1
    return done


# --- comment themes (issue 17) ---------------------------------------------------------------


async def theme_new_comments() -> int:
    """Once a day, whichever worker comes first: the comments not themed yet join the
    existing themes (a full rebuild is on demand: `feedback themes build`, the admin page)."""
    from feedback.themes.assign import daily_theme_job

    return await daily_theme_job()


JOBS["comment_themes"] = theme_new_comments


# --- pooled specialists (issue 18) -----------------------------------------------------------


async def pool_sla() -> int:
    """Pooled CTAs nobody claimed within their pool's SLA are assigned by its rule; those
    still untouched after the second SLA escalate to the pool's manager."""
    from feedback.pools.sla import run_pool_sla

    return await run_pool_sla()


JOBS["pool_sla"] = pool_sla


# --- programs that email customers (issue 18) -----------------------------------------------


async def programs() -> int:
    """Enrol whom the enabled programs' triggers name since their last scan, then do the
    steps that are due (a mail queued, a CTA raised, a Slack message): each once."""
    from feedback.programs.jobs import programs_job

    return await programs_job()


JOBS["programs"] = programs


# --- signed webhooks (issue 19) ---------------------------------------------------------------


async def webhook_dispatch() -> int:
    """Events recorded by changes rendered and fanned out to the endpoints (the webhook
    deliverer does this every round too; this covers a process that runs only jobs)."""
    from feedback.webhooks.dispatch import dispatch_events

    return await dispatch_events()


JOBS["webhook_dispatch"] = webhook_dispatch
