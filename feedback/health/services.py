"""Reading health snapshots: the book on a day with 7- and 30-day trends, one account's
history, and daily roll-ups for a CSM, a team (a manager's CSMs) or the whole book."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException

from analytics.health import BANDS
from feedback.accounts.models import Account
from feedback.auth.services import Principal
from feedback.health.models import HealthSnapshot


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
        where.append(f"{csm_column} IN (SELECT id FROM csm WHERE email = {{}})")  # noqa: S608
        args.append(csm.strip().lower())
    if manager:
        team = "SELECT c.id FROM csm c JOIN csm m ON m.id = c.manager WHERE m.email = {}"
        where.append(f"{csm_column} IN ({team})")
        args.append(manager.strip().lower())


async def latest_day() -> date | None:
    row = (
        await HealthSnapshot.select(HealthSnapshot.day)
        .order_by(HealthSnapshot.day, ascending=False)
        .first()
    )
    return None if row is None else row["day"]


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
    summary_sql = f"""
        SELECT s.band, COUNT(*) AS accounts, SUM(s.score) AS score_sum, COUNT(s.score) AS scored
        FROM health_snapshot s JOIN account a ON a.id = s.account
        WHERE {" AND ".join(where)}
        GROUP BY s.band
    """  # noqa: S608 - only whitelisted conditions are interpolated
    summary = _summary(await HealthSnapshot.raw(summary_sql, *args))
    if band:
        where.append("s.band = {}")
        args.append(band)
    sql = f"""
        SELECT a.external_id AS account_id, a.name, c.email AS csm_email,
               s.score, s.band, s.components, s.arr_cents,
               s7.score AS score_7d_ago, s30.score AS score_30d_ago
        FROM health_snapshot s
        JOIN account a ON a.id = s.account
        LEFT JOIN csm c ON c.id = a.csm
        LEFT JOIN health_snapshot s7 ON s7.account = s.account AND s7.day = {{}}
        LEFT JOIN health_snapshot s30 ON s30.account = s.account AND s30.day = {{}}
        WHERE {" AND ".join(where)}
        ORDER BY CASE WHEN s.score IS NULL THEN 1 ELSE 0 END, s.score, a.external_id
        LIMIT {{}} OFFSET {{}}
    """  # noqa: S608 - only whitelisted conditions are interpolated
    rows = await HealthSnapshot.raw(
        sql, day - timedelta(days=7), day - timedelta(days=30), *args, limit, offset
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
    account = (
        await Account.select(Account.id, Account.csm, Account.name)
        .where(Account.external_id == external_id)
        .first()
    )
    if account is None:
        raise NotFoundException(f"no account {external_id!r}")
    if not principal.can_see_csm(account["csm"]):
        raise PermissionDeniedException("this account belongs to another CSM")
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
    where, args = ["1 = 1"], []
    _scope(where, args, principal, csm, manager, "s.csm")
    if day_from is not None:
        where.append("s.day >= {}")
        args.append(day_from)
    if day_to is not None:
        where.append("s.day <= {}")
        args.append(day_to)
    sql = f"""
        SELECT s.day, COUNT(*) AS accounts, AVG(s.score) AS mean_score,
               SUM(CASE WHEN s.band = 'green' THEN 1 ELSE 0 END) AS green,
               SUM(CASE WHEN s.band = 'yellow' THEN 1 ELSE 0 END) AS yellow,
               SUM(CASE WHEN s.band = 'red' THEN 1 ELSE 0 END) AS red,
               SUM(CASE WHEN s.band = 'unknown' THEN 1 ELSE 0 END) AS unknown
        FROM health_snapshot s
        WHERE {" AND ".join(where)}
        GROUP BY s.day ORDER BY s.day
    """  # noqa: S608 - only whitelisted conditions are interpolated
    rows = await HealthSnapshot.raw(sql, *args)
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
