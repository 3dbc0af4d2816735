"""Retention report: logo retention, GRR and NRR per month or quarter.

Accounts and their first churn event (effective date, else notice date) come from one
query; ARR at a period boundary is the account's latest health-snapshot ARR in the 45 days
up to it (snapshots copy ARR daily), else the account's current ARR. Without daily
snapshots, GRR and NRR therefore show churn only, not expansion or contraction; the report
says how many values came from each source.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from analytics.retention import periods, retention
from feedback.db import as_utc_datetime, fetch
from feedback.health.queries import ARR_AT, retention_accounts_sql
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal

MAX_PERIODS = 60
SNAPSHOT_LOOKBACK_DAYS = 45


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def _arr_at(day: date) -> dict[int, int | None]:
    rows = await ARR_AT.fetch(day, day - timedelta(days=SNAPSHOT_LOOKBACK_DAYS))
    return {r["account"]: r["arr_cents"] for r in rows}


def _arr(
    snapshots: dict[int, int | None], account: int, current: int | None, sources: dict[str, int]
) -> int:
    value = snapshots.get(account)
    if value is not None:
        sources["snapshot"] += 1
        return value
    sources["current"] += 1
    return current or 0


async def retention_report(
    principal: Principal, period: str, day_from: date | None, day_to: date | None
) -> dict[str, Any]:
    if period not in ("month", "quarter"):
        raise InputError("period", "must be month or quarter")
    today = utcnow().date()
    day_to = day_to or today
    day_from = day_from or (day_to - timedelta(days=365 if period == "month" else 730))
    if day_from > day_to:
        raise InputError("from", "must not be after to")
    spans = periods(period, day_from, day_to)
    if len(spans) > MAX_PERIODS:
        raise InputError("from", f"at most {MAX_PERIODS} periods at once")
    by_csm = not principal.can_see_csm(None)
    accounts = await fetch(
        retention_accounts_sql(csm=by_csm), *([principal.csm_id] if by_csm else [])
    )
    lives = [
        (
            r["id"],
            as_utc_datetime(r["created_at"]),
            as_utc_datetime(r["churned_at"]),
            r["arr_cents"],
        )
        for r in accounts
    ]
    boundaries = sorted({s for _, s, _ in spans} | {e for _, _, e in spans})
    snapshot_arr = {b: await _arr_at(b - timedelta(days=1)) for b in boundaries}
    out = []
    for label, start, end in spans:
        begin, finish = _moment(start), _moment(end)
        cohort = [
            life
            for life in lives
            if life[1] is not None and life[1] < begin and (life[2] is None or life[2] >= begin)
        ]
        sources = {"snapshot": 0, "current": 0}
        starts = [_arr(snapshot_arr[start], a, current, sources) for a, _, _, current in cohort]
        kept = [churned is None or churned >= finish for _, _, churned, _ in cohort]
        ends = [
            _arr(snapshot_arr[end], a, current, sources) if k else 0
            for (a, _, _, current), k in zip(cohort, kept, strict=True)
        ]
        figures = asdict(retention(starts, ends, kept))
        out.append(
            {
                "period": label,
                "start": start,
                "end": end,
                "partial": end > today,
                **figures,
                "arr_source": sources,
            }
        )
    return {
        "period": period,
        "from": day_from,
        "to": day_to,
        "currency_unit": "cents",
        "periods": out,
    }
