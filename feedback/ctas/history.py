"""Writing a CTA's history: every change leaves one `cta_event` row (who, from where, what),
in the transaction of the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feedback.ctas import queries


def json_text(value: dict[str, Any]) -> str:
    """A JSON column's value as a statement parameter (dates and datetimes as text)."""
    return json.dumps(value, default=str, sort_keys=True)


async def record_event(
    cta_id: int,
    actor: str,
    source: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    now: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    await queries.INSERT_EVENT.run(
        cta_id,
        now,
        actor[:200],
        source,
        action,
        None if from_status is None else str(from_status),
        None if to_status is None else str(to_status),
        note,
        json_text(data or {}),
    )
