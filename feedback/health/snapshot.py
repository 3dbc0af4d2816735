"""The daily health snapshot: SQL aggregates per account, scores from analytics.health.

The database does the scanning: one GROUP BY over the day's response window and one over
the latest usage metrics give a few numbers per account; Python turns those into components
and scores (numpy, vectorised) and writes one row per account for the day.

A day is computed inside one write transaction. On PostgreSQL a transaction-scoped advisory
lock per day keeps concurrent workers from computing the same day at once: the worker job
only tries the lock and leaves the day to whoever holds it, the command waits for it and
then replaces the day. On SQLite the IMMEDIATE transaction serialises writers the same way.
Re-running a day deletes that day's rows and writes them again, in the same transaction.
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
from feedback.db import current_engine, is_sqlite, write_transaction
from feedback.health.models import HealthSnapshot
from feedback.health.settings import HealthSettings, load_health_settings
from feedback.kernel.clock import utcnow

log = logging.getLogger("feedback.health")

WINDOW_DAYS = 180  # responses that count towards a day's score
METRIC_STALE_DAYS = 30  # a metric's latest value older than this is ignored
LOCK_BASE = 0x6865_0000_0000  # advisory lock keys: this + the day's ordinal
INSERT_CHUNK = 1000

_ACCOUNTS_SQL = """
SELECT a.id, a.csm, a.arr_cents,
       r.responses, r.promoters, r.detractors, r.respondents,
       r.recent_n, r.recent_p, r.recent_d, u.users
FROM account a
LEFT JOIN (
    SELECT account,
           COUNT(*) AS responses,
           SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END) AS promoters,
           SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END) AS detractors,
           COUNT(DISTINCT end_user) AS respondents,
           SUM(CASE WHEN answered_at >= {} THEN 1 ELSE 0 END) AS recent_n,
           SUM(CASE WHEN answered_at >= {} AND score >= 9 THEN 1 ELSE 0 END) AS recent_p,
           SUM(CASE WHEN answered_at >= {} AND score <= 6 THEN 1 ELSE 0 END) AS recent_d
    FROM response
    WHERE answered_at >= {} AND answered_at < {}
    GROUP BY account
) r ON r.account = a.id
LEFT JOIN (
    SELECT account, COUNT(*) AS users FROM end_user WHERE created_at < {} GROUP BY account
) u ON u.account = a.id
WHERE a.created_at < {}
  AND NOT EXISTS (
      SELECT 1 FROM churn_event ce
      WHERE ce.account = a.id AND COALESCE(ce.effective_at, ce.noticed_at) < {}
  )
ORDER BY a.id
"""

_METRICS_SQL = """
SELECT account, name, value
FROM (
    SELECT account, name, value,
           ROW_NUMBER() OVER (PARTITION BY account, name ORDER BY day DESC) AS newest
    FROM usage_metric
    WHERE day <= {} AND day > {}
) m
WHERE newest = 1
"""


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
        values = (
            nps_component(p, d, n),
            detractor_component(d, n),
            coverage_component(_int(row["respondents"]), _int(row["users"])) if n else None,
            trend_component(recent, prior),
        )
        for j, value in enumerate(values):
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
        await HealthSnapshot.raw("SELECT pg_advisory_xact_lock({})", key)
        return True
    rows = await HealthSnapshot.raw("SELECT pg_try_advisory_xact_lock({}) AS got", key)
    return bool(rows[0]["got"])


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
        rows = await HealthSnapshot.raw(
            _ACCOUNTS_SQL, middle, middle, middle, start, end, end, end, end
        )
        metrics = await HealthSnapshot.raw(
            _METRICS_SQL, day, day - timedelta(days=METRIC_STALE_DAYS)
        )
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
        await HealthSnapshot.delete().where(HealthSnapshot.day == day)
        await _insert(records)
    log.info("health snapshot %s: %d accounts", day, len(records))
    return SnapshotResult(day, len(records), True)


COLUMNS = ("account", "day", "score", "band", "components", "csm", "arr_cents", "computed_at")


async def _insert(records: list[tuple[Any, ...]]) -> None:
    connection = current_engine().current_transaction.get().connection  # type: ignore[union-attr]
    if not is_sqlite():
        # COPY writes 20,000 rows in a fraction of the time executemany takes
        await connection.copy_records_to_table(
            "health_snapshot", records=records, columns=list(COLUMNS)
        )
        return
    marks = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO health_snapshot ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
    for start in range(0, len(records), INSERT_CHUNK):
        await connection.executemany(sql, records[start : start + INSERT_CHUNK])


async def snapshot_job() -> int:
    """Worker job: the last complete day, once; several workers never compute it twice."""
    result = await compute_snapshot(last_complete_day(), replace=False)
    return result.accounts
