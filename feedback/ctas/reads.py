"""CTAs as they are shown: one, a list of those a principal may see, a CTA's history."""

from __future__ import annotations

from feedback.ctas import queries
from feedback.ctas.access import can_see, team_of, visible_to
from feedback.ctas.models import CtaEvent, CtaStatus
from feedback.ctas.records import CtaView, HistoryEntry
from feedback.db import Row, as_utc_datetime, fetch
from feedback.health.reads import newest_scores
from feedback.kernel.errors import InputError, NotFound
from feedback.kernel.principal import Principal, Role

STATUSES = tuple(s.value for s in CtaStatus)


async def load_cta(cta_id: int) -> CtaView | None:
    row = await queries.CTA_BY_ID.first(cta_id)
    return None if row is None else (await _views([row]))[0]


async def _views(rows: list[Row]) -> list[CtaView]:
    """CTA rows as shown, each with its account's newest health."""
    health = await newest_scores([row["account_id"] for row in rows]) if rows else {}
    views = []
    for row in rows:
        newest = health.get(row["account_id"])
        row["health_score"] = None if newest is None else newest.score
        row["health_band"] = None if newest is None else newest.band
        views.append(CtaView.from_row(row))
    return views


async def get_visible_cta(principal: Principal, cta_id: int) -> CtaView:
    """The CTA, when the principal may see it; else "no CTA" (404), as when there is none."""
    cta = await load_cta(cta_id)
    if cta is None or not can_see(principal, cta):
        raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
    return cta


async def list_ctas(
    principal: Principal,
    *,
    status: str | None = "active",
    owner_ids: set[int] | None = None,
    account_id: int | None = None,
    type_: str | None = None,
    limit: int = 200,
) -> list[CtaView]:
    """The CTAs the principal may see, most urgent first: active ones (not closed), those of
    one status, or (`status=None`) all; of some owners, an account or a type."""
    args: list[object] = []
    scope = visible_to(principal)
    if scope is not None:
        args += [scope, scope]
    if status not in (None, "active"):
        if status not in STATUSES:
            raise InputError("status", "one of active, open, acknowledged, snoozed, closed")
        args.append(status)
    if owner_ids is not None:
        if not owner_ids:
            return []
        args.extend(sorted(owner_ids))
    if account_id is not None:
        args.append(account_id)
    if type_ is not None:
        args.append(type_)
    sql = queries.list_ctas_sql(
        csm_scope=scope is not None,
        active=status == "active",
        status=status not in (None, "active"),
        owners=None if owner_ids is None else len(owner_ids),
        account=account_id is not None,
        type_=type_ is not None,
    )
    rows = await fetch(sql, *args, max(1, min(limit, 1000)))
    return await _views(rows)


async def open_ctas_for(principal: Principal) -> list[CtaView]:
    """A CSM's open CTAs; a manager's team's."""
    assert principal.csm_id is not None
    if principal.role is Role.manager:
        owners = await team_of(principal.csm_id)
    else:
        owners = {principal.csm_id}
    return await list_ctas(principal, owner_ids=owners)


async def cta_history(cta_id: int) -> list[HistoryEntry]:
    rows = (
        await CtaEvent.select(
            CtaEvent.at,
            CtaEvent.actor,
            CtaEvent.source,
            CtaEvent.action,
            CtaEvent.from_status,
            CtaEvent.to_status,
            CtaEvent.note,
        )
        .where(CtaEvent.cta == cta_id)
        .order_by(CtaEvent.id)
    )
    return [HistoryEntry(**{**row, "at": as_utc_datetime(row["at"])}) for row in rows]
