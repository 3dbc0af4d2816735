"""The health domain's reads for other domains (CTAs, Slack, pages): the latest computed
day, each account's score on it, and an account's recent scores.

"Latest" means two things, and each function says which: the latest computed day of the
whole book (`latest_day`, `latest_scores`: an account without a snapshot that day, made
after it or churned before it, has no latest score), or an account's own newest snapshots
(`newest_scores`, `recent_scores`, whatever day they are from). `scores_on` reads one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from feedback.db import fetch
from feedback.health import queries
from feedback.health.models import HealthSnapshot

# accounts per statement in `latest_scores`: well below SQLite's limit of bound parameters
ACCOUNTS_PER_QUERY = 1000


@dataclass(frozen=True, slots=True)
class HealthScore:
    """One account's health snapshot on one day: its score (0-100, None when none of its
    components could be computed) and its band (green, yellow, red or unknown)."""

    account: int
    day: date
    score: float | None
    band: str


async def latest_day() -> date | None:
    """The latest day a health snapshot was computed for; None before the first."""
    row = (
        await HealthSnapshot.select(HealthSnapshot.day)
        .order_by(HealthSnapshot.day, ascending=False)
        .first()
    )
    return None if row is None else row["day"]


async def latest_scores(account_ids: list[int] | None = None) -> dict[int, HealthScore]:
    """Account id -> its snapshot on the latest computed day (`latest_day()`), for every
    account that has one, or for those of `account_ids` that have one. Empty before the
    first snapshot."""
    if account_ids is None:
        rows = await fetch(queries.latest_scores_sql(None))
    else:
        rows = []
        for chunk in _chunks(account_ids):
            rows += await fetch(queries.latest_scores_sql(len(chunk)), *chunk)
    return {row["account"]: _score(row["account"], row) for row in rows}


async def scores_on(day: date, account_ids: list[int] | None = None) -> dict[int, HealthScore]:
    """Account id -> its snapshot of `day`, for every account that has one, or for those of
    `account_ids` that have one."""
    if account_ids is None:
        rows = await fetch(queries.scores_on_sql(None), day)
    else:
        rows = []
        for chunk in _chunks(account_ids):
            rows += await fetch(queries.scores_on_sql(len(chunk)), day, *chunk)
    return {row["account"]: _score(row["account"], row) for row in rows}


async def newest_scores(account_ids: list[int]) -> dict[int, HealthScore]:
    """Account id -> its own newest snapshot, whatever its day (what a CTA shows beside its
    account), for those of `account_ids` that have one."""
    rows = []
    for chunk in _chunks(account_ids):
        rows += await fetch(queries.newest_scores_sql(len(chunk)), *chunk)
    return {row["account"]: _score(row["account"], row) for row in rows}


def _chunks(account_ids: list[int]) -> list[list[int]]:
    ids = sorted(set(account_ids))
    return [ids[i : i + ACCOUNTS_PER_QUERY] for i in range(0, len(ids), ACCOUNTS_PER_QUERY)]


async def recent_scores(account_id: int, count: int) -> list[HealthScore]:
    """The account's `count` newest snapshots that have a score, newest first (whatever
    their days: a day without a snapshot, or without a score, is skipped)."""
    rows = await queries.SCORED_DAYS.fetch(account_id, count)
    return [_score(account_id, row) for row in rows]


def _score(account_id: int, row: dict[str, Any]) -> HealthScore:
    day = row["day"]
    return HealthScore(
        account=account_id,
        day=day if isinstance(day, date) else date.fromisoformat(day),
        score=None if row["score"] is None else float(row["score"]),
        band=row["band"],
    )
