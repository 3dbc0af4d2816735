"""Reading health snapshots: the book on a day with 7- and 30-day trends, one account's
history, and daily roll-ups for a CSM, a team (a manager's CSMs) or the whole book."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from analytics.health import BANDS
from feedback.accounts.models import Account
from feedback.db import fetch
from feedback.health.models import HealthSnapshot
from feedback.health.queries import (
    accounts_on_day_sql,
    band_summary_sql,
    by_csm_sql,
    csm_email_condition,
    movers_sql,
    team_condition,
    trend_sql,
)
from feedback.health.reads import latest_day
from feedback.kernel.environments import PRODUCTION, parse_environment
from feedback.kernel.errors import DomainError, Forbidden, NotFound
from feedback.kernel.principal import Principal

PRODUCTION_ONLY = "health is computed from production answers only"


def production_only(environment: str | None) -> None:
    """Health is a state of real accounts: its snapshots, trends and churn model are
    computed from production answers only, so asking for staging or development is
    refused naming `environment` (400; a value that is no environment at all is an input
    error, 422). None, "" and "production" pass."""
    if parse_environment(environment) != PRODUCTION:
        raise DomainError.for_field("environment", PRODUCTION_ONLY)


def _scope(
    where: list[str],
    args: list[Any],
    principal: Principal,
    csm: str | None,
    manager: str | None,
    csm_column: str,
) -> None:
    if not principal.can_see_csm(None):
        where.append(f"{csm_column} = {{}}")
        args.append(principal.csm_id)
    if csm:
        where.append(csm_email_condition(csm_column))
        args.append(csm.strip().lower())
    if manager:
        where.append(team_condition(csm_column))
        args.append(manager.strip().lower())


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


async def health_on_day(
    principal: Principal,
    *,
    day: date | None = None,
    csm: str | None = None,
    manager: str | None = None,
    band: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Each account's snapshot on `day` (default: the latest computed), lowest score first;
    the summary counts every account in scope before the band filter."""
    day = day or await latest_day()
    if day is None:
        return {"day": None, "summary": _summary([]), "total": 0, "accounts": []}
    where = ["s.day = {}"]
    args: list[Any] = [day]
    _scope(where, args, principal, csm, manager, "a.csm")
    summary = _summary(await fetch(band_summary_sql(where), *args))
    if band:
        where.append("s.band = {}")
        args.append(band)
    rows = await fetch(
        accounts_on_day_sql(where),
        day - timedelta(days=7),
        day - timedelta(days=30),
        *args,
        limit,
        offset,
    )
    total = summary["bands"][band] if band else summary["accounts"]
    return {
        "day": day,
        "summary": summary,
        "total": total,
        "accounts": [_account_out(r) for r in rows],
    }


def _account_out(row: dict[str, Any]) -> dict[str, Any]:
    components = row["components"]
    if isinstance(components, str):
        components = json.loads(components)
    score = _float(row["score"])
    earlier7, earlier30 = _float(row["score_7d_ago"]), _float(row["score_30d_ago"])
    cents = row["arr_cents"]
    return {
        "account_id": row["account_id"],
        "name": row["name"],
        "csm_email": row["csm_email"],
        "score": score,
        "band": row["band"],
        "trend_7d": None if score is None or earlier7 is None else round(score - earlier7, 2),
        "trend_30d": None if score is None or earlier30 is None else round(score - earlier30, 2),
        "components": components,
        "arr": None if cents is None else f"{cents // 100}.{cents % 100:02d}",
    }


def _summary(by_band: list[dict[str, Any]]) -> dict[str, Any]:
    scored = sum(int(r["scored"] or 0) for r in by_band)
    total = sum(float(r["score_sum"] or 0) for r in by_band)
    return {
        "accounts": sum(int(r["accounts"]) for r in by_band),
        "mean_score": round(total / scored, 2) if scored else None,
        "bands": {b: sum(int(r["accounts"]) for r in by_band if r["band"] == b) for b in BANDS},
    }


async def account_history(
    principal: Principal, external_id: str, day_from: date | None, day_to: date | None
) -> dict[str, Any]:
    if "\x00" in external_id:
        # PostgreSQL text cannot hold NUL: no account has such an id
        raise NotFound(f"no account {external_id!r}")
    account = (
        await Account.select(Account.id, Account.csm, Account.name)
        .where(Account.external_id == external_id)
        .first()
    )
    if account is None:
        raise NotFound(f"no account {external_id!r}")
    if not principal.can_see_csm(account["csm"]):
        raise Forbidden("this account belongs to another CSM")
    query = (
        HealthSnapshot.select(
            HealthSnapshot.day,
            HealthSnapshot.score,
            HealthSnapshot.band,
            HealthSnapshot.components,
        )
        .where(HealthSnapshot.account == account["id"])
        .order_by(HealthSnapshot.day)
        .output(load_json=True)
    )
    if day_from is not None:
        query = query.where(HealthSnapshot.day >= day_from)
    if day_to is not None:
        query = query.where(HealthSnapshot.day <= day_to)
    days = await query
    for row in days:
        row["score"] = _float(row["score"])
    return {"account_id": external_id, "name": account["name"], "days": days}


async def health_trend(
    principal: Principal,
    *,
    csm: str | None = None,
    manager: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> dict[str, Any]:
    """Per day: accounts, mean score and band counts, for the CSM, team or book as it was
    that day (the snapshot's CSM)."""
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    _scope(where, args, principal, csm, manager, "s.csm")
    if day_from is not None:
        where.append("s.day >= {}")
        args.append(day_from)
    if day_to is not None:
        where.append("s.day <= {}")
        args.append(day_to)
    rows = await fetch(trend_sql(where), *args)
    return {
        "csm": csm,
        "manager": manager,
        "days": [
            {
                "day": r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"]),
                "accounts": int(r["accounts"]),
                "mean_score": _float(r["mean_score"]),
                "bands": {b: int(r[b] or 0) for b in BANDS},
            }
            for r in rows
        ],
    }


async def health_by_csm(
    principal: Principal,
    *,
    day: date,
    csm: str | None = None,
    manager: str | None = None,
) -> list[dict[str, Any]]:
    """Per CSM (the snapshot's CSM, as in `health_trend`): accounts, mean score and band
    counts on `day`, and the mean 7 and 30 days before, from one GROUP BY over three days."""
    earlier7, earlier30 = day - timedelta(days=7), day - timedelta(days=30)
    where, args = ["s.day IN ({}, {}, {})"], [day, earlier7, earlier30]
    _scope(where, args, principal, csm, manager, "s.csm")
    rows = await fetch(by_csm_sql(where), *args)
    by_csm: dict[int | None, dict[date, dict[str, Any]]] = {}
    for r in rows:
        on = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
        by_csm.setdefault(r["csm"], {})[on] = r
    out = []
    for days in by_csm.values():
        now = days.get(day)
        if now is None:
            continue  # a CSM without accounts today is no longer in this book
        mean = _float(now["mean_score"])
        before7 = _float((days.get(earlier7) or {}).get("mean_score"))
        before30 = _float((days.get(earlier30) or {}).get("mean_score"))
        out.append(
            {
                "csm_email": now["csm_email"],
                "csm_name": now["csm_name"],
                "accounts": int(now["accounts"]),
                "mean_score": mean,
                "mean_7d_ago": before7,
                "mean_30d_ago": before30,
                "change_7d": None if mean is None or before7 is None else round(mean - before7, 2),
                "change_30d": None
                if mean is None or before30 is None
                else round(mean - before30, 2),
                "bands": {b: int(now[b] or 0) for b in BANDS},
            }
        )
    out.sort(key=lambda r: (r["csm_name"] is None, r["csm_name"] or ""))
    return out


async def health_movers(
    principal: Principal,
    *,
    day: date,
    csm: str | None = None,
    manager: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Accounts (of today's book, as in `health_on_day`) that moved into red since 7 days
    before `day`, then those whose score dropped most; both days must have a snapshot."""
    where, args = ["s.day = {}"], [day]
    _scope(where, args, principal, csm, manager, "a.csm")
    rows = await fetch(movers_sql(where), day - timedelta(days=7), *args, limit)
    out = []
    for r in rows:
        score, before = _float(r["score"]), _float(r["score_before"])
        out.append(
            {
                "account_id": r["account_id"],
                "name": r["name"],
                "csm_email": r["csm_email"],
                "csm_name": r["csm_name"],
                "score": score,
                "band": r["band"],
                "score_before": before,
                "band_before": r["band_before"],
                "change": None if score is None or before is None else round(score - before, 2),
                "into_red": bool(r["into_red"]),
            }
        )
    return out
