"""The daily health snapshot: SQL aggregates per account, scores from analytics.health.

The database does the scanning: one GROUP BY over the day's response window and one over
the latest usage metrics give a few numbers per account; Python turns those into components
and scores (numpy, vectorised) and writes one row per account for the day.

A day is computed inside one write transaction. On PostgreSQL a transaction-scoped advisory
lock per day keeps concurrent workers from computing the same day at once: the worker job
only tries the lock and leaves the day to whoever holds it, the command waits for it and
then replaces the day. On SQLite the IMMEDIATE transaction serialises writers the same way.
Re-running a day deletes that day's rows and writes them again, in the same transaction.
While a webhook endpoint is switched on, the same transaction records `health.band_changed`
for each account whose band differs from the snapshot before (feedback.webhooks).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from analytics.health import (
    BASE_COMPONENTS,
    band_of,
    coverage_component,
    detractor_component,
    nps_component,
    percentile_components,
    score_matrix,
    trend_component,
    weight_of,
)
from feedback.db import copy_rows, is_sqlite, write_transaction
from feedback.health import queries
from feedback.health.models import HealthSnapshot
from feedback.health.score_settings import HealthSettings, load_health_settings
from feedback.kernel.clock import utcnow
from feedback.webhooks.events import endpoints_active, record_events
from feedback.webhooks.models import EventType

log = logging.getLogger("feedback.health")

WINDOW_DAYS = 180  # responses that count towards a day's score
METRIC_STALE_DAYS = 30  # a metric's latest value older than this is ignored
LOCK_BASE = 0x6865_0000_0000  # advisory lock keys: this + the day's ordinal
# bench/health_snapshot.py times the two aggregates by these names
_ACCOUNTS_SQL = queries.SNAPSHOT_ACCOUNTS.text
_METRICS_SQL = queries.LATEST_METRICS.text


@dataclass(frozen=True)
class SnapshotResult:
    day: date
    accounts: int
    computed: bool  # False when another worker held the day, or it existed already

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "accounts": self.accounts, "computed": self.computed}


def last_complete_day(now: datetime | None = None) -> date:
    return (now or utcnow()).date() - timedelta(days=1)


def _int(value: Any) -> int:
    return int(value or 0)


def compute_components(
    rows: list[dict[str, Any]], metrics: list[dict[str, Any]]
) -> tuple[list[str], np.ndarray]:
    """Component names and an accounts x components matrix (NaN = missing)."""
    index = {row["id"]: i for i, row in enumerate(rows)}
    by_metric: dict[str, tuple[list[int], list[float]]] = {}
    for m in metrics:
        i = index.get(m["account"])
        if i is None:
            continue
        positions, values = by_metric.setdefault(f"metric.{m['name']}", ([], []))
        positions.append(i)
        values.append(float(m["value"]))
    names = [*BASE_COMPONENTS, *sorted(by_metric)]
    matrix = np.full((len(rows), len(names)), np.nan)
    for i, row in enumerate(rows):
        n = _int(row["responses"])
        p, d = _int(row["promoters"]), _int(row["detractors"])
        recent = (_int(row["recent_p"]), _int(row["recent_d"]), _int(row["recent_n"]))
        prior = (p - recent[0], d - recent[1], n - recent[2])
        components = (
            nps_component(p, d, n),
            detractor_component(d, n),
            coverage_component(_int(row["respondents"]), _int(row["users"])) if n else None,
            trend_component(recent, prior),
        )
        for j, value in enumerate(components):
            if value is not None:
                matrix[i, j] = value
    for j, name in enumerate(names[len(BASE_COMPONENTS) :], start=len(BASE_COMPONENTS)):
        positions, values = by_metric[name]
        matrix[positions, j] = percentile_components(values)
    return names, matrix


def score_rows(
    names: list[str], matrix: np.ndarray, settings: HealthSettings
) -> tuple[np.ndarray, list[str]]:
    weights = np.array([weight_of(n, settings.weights, settings.metric_weight) for n in names])
    scores = score_matrix(matrix, weights) if len(matrix) else np.array([])
    bands = [band_of(None if np.isnan(s) else float(s), settings.bands) for s in scores]
    return scores, bands


async def _take_day_lock(day: date, wait: bool) -> bool:
    if is_sqlite():
        return True  # the IMMEDIATE transaction already holds SQLite's one write lock
    key = LOCK_BASE + day.toordinal()
    if wait:
        await queries.WAIT_FOR_DAY_LOCK.run(key)
        return True
    row = await queries.TRY_DAY_LOCK.first(key)
    return bool(row and row["got"])


async def compute_snapshot(day: date, *, replace: bool = True) -> SnapshotResult:
    """Compute `day`'s snapshot (data up to the end of that UTC day).

    replace=True (the command) waits for any other run of the day and then replaces it;
    replace=False (the worker) leaves a day that exists or is being computed.
    """
    settings = await load_health_settings()
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    start = end - timedelta(days=WINDOW_DAYS)
    middle = end - timedelta(days=WINDOW_DAYS // 2)
    async with write_transaction():
        if not await _take_day_lock(day, wait=replace):
            return SnapshotResult(day, 0, False)
        if not replace and await HealthSnapshot.exists().where(HealthSnapshot.day == day):
            return SnapshotResult(day, 0, False)
        rows = await queries.SNAPSHOT_ACCOUNTS.fetch(
            middle, middle, middle, start, end, end, end, end
        )
        metrics = await queries.LATEST_METRICS.fetch(day, day - timedelta(days=METRIC_STALE_DAYS))
        names, matrix = compute_components(rows, metrics)
        scores, bands = score_rows(names, matrix, settings)
        now = utcnow()
        records = []
        for i, row in enumerate(rows):
            components = {
                name: round(float(matrix[i, j]), 2)
                for j, name in enumerate(names)
                if not np.isnan(matrix[i, j])
            }
            score = None if np.isnan(scores[i]) else round(float(scores[i]), 2)
            records.append(
                (
                    row["id"],
                    day,
                    score,
                    bands[i],
                    json.dumps(components),
                    row["csm"],
                    row["arr_cents"],
                    now,
                )
            )
        told = await endpoints_active()
        replaced = await _bands_on(day) if told and replace else {}
        await HealthSnapshot.delete().where(HealthSnapshot.day == day)
        await copy_rows("health_snapshot", COLUMNS, records)
        if told:
            await _tell_band_changes(day, {r[0]: r[3] for r in records}, replaced, now)
    log.info("health snapshot %s: %d accounts", day, len(records))
    return SnapshotResult(day, len(records), True)


COLUMNS = ("account", "day", "score", "band", "components", "csm", "arr_cents", "computed_at")


async def _bands_on(day: date) -> dict[int, str]:
    rows = await HealthSnapshot.select(HealthSnapshot.account, HealthSnapshot.band).where(
        HealthSnapshot.day == day
    )
    return {row["account"]: row["band"] for row in rows}


async def _tell_band_changes(
    day: date, bands: dict[int, str], replaced: dict[int, str], now: datetime
) -> None:
    """The webhooks' `health.band_changed` for each account whose band on `day` differs from
    its band in the snapshot before (an account new since then has none); a day computed
    again tells only what it changed. Object id: "<account id>:<day>"."""
    previous = (
        await HealthSnapshot.select(HealthSnapshot.day)
        .where(HealthSnapshot.day < day)
        .order_by(HealthSnapshot.day, ascending=False)
        .first()
    )
    if previous is None:
        return
    before = await _bands_on(previous["day"])
    changed = [
        account
        for account, band in bands.items()
        if before.get(account) not in (None, band) and replaced.get(account) != band
    ]
    await record_events(
        ((EventType.health_band_changed, f"{account}:{day.isoformat()}") for account in changed),
        occurred_at=now,
    )


async def snapshot_job() -> int:
    """Worker job: the last complete day, once; several workers never compute it twice."""
    result = await compute_snapshot(last_complete_day(), replace=False)
    return result.accounts
