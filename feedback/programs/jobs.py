"""The worker's programs job: enrol whom the triggers name, then do the due steps."""

from __future__ import annotations

from datetime import datetime

from feedback.kernel.clock import utcnow
from feedback.programs.runner import run_due
from feedback.programs.shipped import ensure_default_programs
from feedback.programs.triggers import scan_triggers

_shipped_checked = False


async def programs_job(now: datetime | None = None) -> int:
    """The number of people enrolled and steps done. The first run in a process also makes
    sure the shipped programs exist (switched off)."""
    global _shipped_checked
    if not _shipped_checked:
        await ensure_default_programs()
        _shipped_checked = True
    now = now or utcnow()
    return await scan_triggers(now) + await run_due(now)
