"""Background jobs, run by `feedback worker` (any number of them may run at once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from feedback.accounts.services import apply_due_churn
from feedback.health.snapshot import snapshot_job
from feedback.surveys.services import expire_displays

log = logging.getLogger("feedback.worker")

Job = Callable[[], Awaitable[int]]

# each job is idempotent and safe to run concurrently in several workers
JOBS: dict[str, Job] = {
    "apply_due_churn": apply_due_churn,
    "expire_displays": expire_displays,
    "health_snapshot": snapshot_job,
}


async def run_jobs_once() -> dict[str, int]:
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        try:
            done[name] = await job()
        except Exception:  # one failing job must not stop the others
            log.exception("job %s failed", name)
            done[name] = -1
    return done


async def run_worker(interval_seconds: int, once: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    while True:
        results = await run_jobs_once()
        log.info("jobs ran: %s", results)
        if once:
            return
        await asyncio.sleep(interval_seconds)
