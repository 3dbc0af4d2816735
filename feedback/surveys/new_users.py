"""PostgreSQL's fast path for a new user's check: the user (and their display, when one was
decided) created in one statement, checks that arrive together sharing it (group commit)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from feedback.db import GroupCommit, Row
from feedback.db.batches import MAX_ROW_BATCH, batch_length, padded
from feedback.db.errors import database_unavailable
from feedback.observability import NEW_USER_BATCH_SIZE
from feedback.surveys import queries


class Visit(NamedTuple):
    """One check for `queries.VISITS`, its fields in the order of the statement's input."""

    user_id: str
    account_pk: int
    account_id: str
    role: str | None
    email: str | None
    locale: str | None
    traits: str  # JSON
    now: datetime
    last_display_at: datetime | None
    token: str | None
    slot_prefix: str
    slot_suffix: str
    survey: int | None
    schedule: int | None
    widget_key: int
    environment: str  # the key's
    cycle: int
    display_locale: str | None
    url: str | None
    expires_at: datetime
    show: bool


if Visit._fields != queries.VISIT_COLUMNS:
    raise RuntimeError("Visit and the statement's input columns disagree")


async def insert_visits(visits: list[Visit]) -> list[Row | Exception | None]:
    """One statement for the batch; each check's row (None: its account is gone). Should the
    batch fail for a reason other than the database being away, each check runs by itself."""
    NEW_USER_BATCH_SIZE.observe(len(visits))
    try:
        length = batch_length(len(visits))
        rows = await queries.VISITS[length].fetch(*padded(visits, length))
    except Exception as exc:
        if database_unavailable(exc) or len(visits) == 1:
            raise
        return [await _visit_alone(visit) for visit in visits]
    by_number = {row.pop("n"): row for row in rows}
    return [by_number.get(n) for n in range(len(visits))]


async def _visit_alone(visit: Visit) -> Row | Exception | None:
    try:
        return (await insert_visits([visit]))[0]
    except Exception as exc:
        return exc


_NEW_VISITS: GroupCommit[Visit, Row | None] = GroupCommit(
    insert_visits, max_items=MAX_ROW_BATCH, linger=0.0005
)


async def create_if_new(visit: Visit) -> Row | None:
    """The user's row after the statement (`created` set when it created them); None when the
    account is gone."""
    return await _NEW_VISITS.submit(visit)
