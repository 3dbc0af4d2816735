"""The pools report: per pool and per specialist, how fast pooled CTAs got an owner (time to
claim, in the pool's working minutes, the unit of its SLA), how fast they were closed (in
hours), how many were claimed, assigned by the rule and escalated, and the open load now."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.db import as_utc_datetime
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.pools import queries
from feedback.pools.models import Pool
from feedback.pools.working_hours import WorkingHours, working_minutes
from feedback.reports.services import spreadsheet_safe

DEFAULT_DAYS = 90


def nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (share 0.5 the median, 0.9 the p90): the smallest value
    with at least that share of the values at or below it; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class LoadRow:
    """One pool, or one specialist within a pool."""

    pool_id: int
    pool: str
    specialist_id: int | None = None
    specialist: str | None = None  # None: the pool as a whole
    ctas: int = 0  # created in the window
    claimed: int = 0  # by a member
    assigned: int = 0  # by the pool's rule after the claim SLA
    escalated: int = 0
    closed: int = 0
    open_unclaimed: int = 0  # now, whenever created (pool rows only)
    open_owned: int = 0  # now, whenever created
    claim_minutes: list[float] = field(default_factory=list, repr=False)
    close_hours: list[float] = field(default_factory=list, repr=False)

    @property
    def claim_median(self) -> float | None:
        return nearest_rank(self.claim_minutes, 0.5)

    @property
    def claim_p90(self) -> float | None:
        return nearest_rank(self.claim_minutes, 0.9)

    @property
    def close_median(self) -> float | None:
        return nearest_rank(self.close_hours, 0.5)

    @property
    def close_p90(self) -> float | None:
        return nearest_rank(self.close_hours, 0.9)

    def as_dict(self) -> dict[str, Any]:
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("claim_minutes", "close_hours")
        }
        for name in ("claim_median", "claim_p90", "close_median", "close_p90"):
            value = getattr(self, name)
            out[f"{name}_{'minutes' if 'claim' in name else 'hours'}"] = (
                None if value is None else round(value, 1)
            )
        return out


@dataclass
class PoolReport:
    date_from: datetime
    date_to: datetime
    pools: list[LoadRow]
    specialists: list[LoadRow]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.date_from,
            "to": self.date_to,
            "pools": [row.as_dict() for row in self.pools],
            "specialists": [row.as_dict() for row in self.specialists],
        }


def window(
    date_from: datetime | None, date_to: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    end = date_to or now
    start = date_from or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InputError("to", "must be after from")
    return start, end


async def pool_report(
    date_from: datetime | None = None, date_to: datetime | None = None, now: datetime | None = None
) -> PoolReport:
    """Pooled CTAs created from `date_from` (default 90 days before `date_to`) until
    `date_to` (default now); the open load is today's."""
    now = now or utcnow()
    start, end = window(date_from, date_to, now)
    pools: dict[int, LoadRow] = {}
    hours: dict[int, WorkingHours] = {}
    for p in await Pool.select(
        Pool.id, Pool.name, Pool.timezone, Pool.workday_start_hour, Pool.workday_end_hour
    ).order_by(Pool.name):
        pools[p["id"]] = LoadRow(p["id"], p["name"])
        hours[p["id"]] = WorkingHours(
            p["timezone"] or "UTC", p["workday_start_hour"], p["workday_end_hour"]
        )
    people: dict[tuple[int, int], LoadRow] = {}
    names: dict[int, str] = {}

    def person(pool_id: int, csm: int) -> LoadRow:
        key = (pool_id, csm)
        if key not in people:
            pool = pools[pool_id]
            people[key] = LoadRow(pool_id, pool.pool, csm, names.get(csm))
        return people[key]

    for cta in await queries.POOLED_CTAS.fetch(start, end):
        pool_id = cta["pool"]
        if pool_id not in pools:
            continue
        if cta["owner"] is not None:
            names[cta["owner"]] = cta["owner_name"]
        rows = [pools[pool_id]]
        if cta["owner"] is not None:
            rows.append(person(pool_id, cta["owner"]))
        created = as_utc_datetime(cta["created_at"])
        claimed = as_utc_datetime(cta["claimed_at"])
        closed = as_utc_datetime(cta["closed_at"])
        for row in rows:
            row.ctas += 1
            row.claimed += cta["how"] == "claim"
            row.assigned += cta["how"] == "assign"
            row.escalated += cta["escalated_at"] is not None
            if created and claimed:
                row.claim_minutes.append(working_minutes(created, claimed, hours[pool_id]))
            if created and closed and cta["status"] == "closed":
                row.closed += 1
                row.close_hours.append((closed - created).total_seconds() / 3600)
    for load in await queries.OPEN_LOAD.fetch():
        pool_id = load["pool"]
        if pool_id not in pools:
            continue
        if load["owner"] is None:
            pools[pool_id].open_unclaimed += load["n"]
        else:
            pools[pool_id].open_owned += load["n"]
            person(pool_id, load["owner"]).open_owned += load["n"]
    await _name_people(people)
    specialists = sorted(people.values(), key=lambda r: (r.pool, r.specialist or ""))
    return PoolReport(start, end, list(pools.values()), specialists)


async def _name_people(people: dict[tuple[int, int], LoadRow]) -> None:
    """Specialists known only from the open load (CTAs created before the window)."""
    missing = {csm for (_, csm), row in people.items() if row.specialist is None}
    if missing:
        for row in await CSM.select(CSM.id, CSM.name).where(CSM.id.is_in(sorted(missing))):
            for (_, csm), each in people.items():
                if csm == row["id"]:
                    each.specialist = row["name"]


CSV_COLUMNS = (
    "pool",
    "specialist",
    "ctas",
    "claimed",
    "assigned",
    "escalated",
    "closed",
    "open_unclaimed",
    "open_owned",
    "claim_median_minutes",
    "claim_p90_minutes",
    "close_median_hours",
    "close_p90_hours",
)


def report_csv(report: PoolReport) -> str:
    """Pools first (specialist empty), then specialists."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*report.pools, *report.specialists]:
        values = row.as_dict()
        writer.writerow(
            ["" if values[c] is None else spreadsheet_safe(values[c]) for c in CSV_COLUMNS]
        )
    return out.getvalue()
