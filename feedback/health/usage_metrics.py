"""Usage and adoption metrics pushed per account per day (`POST /api/v1/metrics`).

A push is validated whole before anything is written, and written with
`INSERT ... ON CONFLICT (account, name, day) DO UPDATE`, so sending the same values again
changes nothing and a corrected value replaces the old one.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from feedback.accounts.models import Account
from feedback.db import write_transaction
from feedback.health.models import UsageMetric
from feedback.health.queries import UPSERT_USAGE_METRIC
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal

MAX_METRICS_PER_PUSH = 10_000
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ACCOUNT_LOOKUP_CHUNK = 500
# days outside these years are typing mistakes (and 0001-01-01 minus a day overflows)
DAY_YEARS = (1900, 2200)


def parse_day(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise InputError(field, "expected a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(field, f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if not DAY_YEARS[0] <= day.year <= DAY_YEARS[1]:
        raise InputError(field, f"must be a date from {DAY_YEARS[0]} to {DAY_YEARS[1]}")
    return day


def _rows_of(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "metrics" in payload:
        payload = payload["metrics"]
    if not isinstance(payload, list):
        raise InputError("metrics", 'send a list of metric objects or {"metrics": [...]}')
    if not payload:
        raise InputError("metrics", "is empty")
    if len(payload) > MAX_METRICS_PER_PUSH:
        raise InputError("metrics", f"at most {MAX_METRICS_PER_PUSH} values per request")
    return payload


def validate_metrics(payload: Any, today: date) -> list[tuple[str, str, date, float]]:
    """(account external id, metric name, day, value) per item, or InputError naming the
    first bad field as `metrics[i].field`."""
    out: list[tuple[str, str, date, float]] = []
    for i, item in enumerate(_rows_of(payload)):
        where = f"metrics[{i}]"
        if not isinstance(item, dict):
            raise InputError(where, "expected an object")
        unknown = set(item) - {"account_id", "metric", "day", "value"}
        if unknown:
            raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown field")
        account = item.get("account_id")
        if not isinstance(account, str) or not account.strip():
            raise InputError(f"{where}.account_id", "required: the account's external id")
        name = item.get("metric")
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            raise InputError(
                f"{where}.metric",
                "required: lower-case letters, digits and _, starting with a letter, up to 64",
            )
        if "day" not in item:
            raise InputError(f"{where}.day", "required: YYYY-MM-DD (UTC)")
        day = parse_day(item["day"], f"{where}.day")
        if day > today + timedelta(days=1):
            raise InputError(f"{where}.day", "is in the future")
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where}.value", "required: a number")
        if not math.isfinite(value):
            raise InputError(f"{where}.value", "must be a finite number")
        out.append((account.strip(), name, day, float(value)))
    return out


async def account_ids(external_ids: set[str]) -> dict[str, tuple[int, int | None]]:
    """external id -> (account id, csm id) for the ids that exist."""
    found: dict[str, tuple[int, int | None]] = {}
    ordered = sorted(external_ids)
    for start in range(0, len(ordered), ACCOUNT_LOOKUP_CHUNK):
        chunk = ordered[start : start + ACCOUNT_LOOKUP_CHUNK]
        rows = await Account.select(Account.id, Account.external_id, Account.csm).where(
            Account.external_id.is_in(chunk)
        )
        for row in rows:
            found[row["external_id"]] = (row["id"], row["csm"])
    return found


async def push_metrics(payload: Any) -> dict[str, int]:
    now = utcnow()
    items = validate_metrics(payload, now.date())
    known = await account_ids({item[0] for item in items})
    for i, item in enumerate(items):
        if item[0] not in known:
            raise InputError(f"metrics[{i}].account_id", f"no account {item[0]!r}")
    rows = [(known[a][0], name, day, value, now) for a, name, day, value in items]
    async with write_transaction():
        await UPSERT_USAGE_METRIC.run_many(rows)
    return {"received": len(items), "accounts": len({r[0] for r in rows})}


async def list_metrics(
    principal: Principal,
    *,
    account: str | None = None,
    metric: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = UsageMetric.select(
        UsageMetric.account.external_id.as_alias("account_id"),
        UsageMetric.name.as_alias("metric"),
        UsageMetric.day,
        UsageMetric.value,
        UsageMetric.updated_at,
    )
    if not principal.can_see_csm(None):
        query = query.where(UsageMetric.account.csm == principal.csm_id)
    if account:
        query = query.where(UsageMetric.account.external_id == account)
    if metric:
        query = query.where(UsageMetric.name == metric)
    if day_from is not None:
        query = query.where(UsageMetric.day >= day_from)
    if day_to is not None:
        query = query.where(UsageMetric.day <= day_to)
    return await (
        query.order_by(UsageMetric.account.external_id)
        .order_by(UsageMetric.name)
        .order_by(UsageMetric.day)
        .limit(limit)
        .offset(offset)
    )
