"""CTAs as they are shown: one, a list of those a principal may see, a CTA's history, and
the detractor CTAs of a period with the answer that followed each (the loop report)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feedback.ctas import queries
from feedback.ctas.access import cta_scope, may_change, team_of, visible_to
from feedback.ctas.models import CtaEvent, CtaStatus
from feedback.ctas.records import CtaView, HistoryEntry
from feedback.db import Row, as_utc_datetime, fetch, is_sqlite
from feedback.health.reads import newest_scores
from feedback.kernel.errors import Forbidden, InputError, NotFound
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
    if cta is None:
        raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
    scope = await cta_scope(principal)
    if scope is not None and not scope.sees(cta):
        raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
    return cta


async def get_changeable_cta(principal: Principal, cta_id: int) -> CtaView:
    """The CTA, when the principal may change it (`access.may_change`): "no CTA" (404) when
    they do not see it, forbidden (403) when they see it through their pool but do not own
    it (claim it first, or it is another specialist's)."""
    cta = await get_visible_cta(principal, cta_id)
    if not may_change(principal, cta):
        if cta.owner_id is None:
            raise Forbidden.for_field("cta", f"claim it first: nobody in {cta.pool_name} has")
        raise Forbidden.for_field("cta", f"{cta.owner_name} has claimed it")
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
    """The CTAs the principal may see (a CSM: theirs, their accounts' and their pools'),
    most urgent first: active ones (not closed), those of
    one status, or (`status=None`) all; of some owners, an account or a type."""
    args: list[object] = []
    scope = await cta_scope(principal)
    if scope is not None:
        args += [scope.csm_id, scope.csm_id, *sorted(scope.pool_ids)]
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
        pools=0 if scope is None else len(scope.pool_ids),
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


@dataclass(frozen=True, slots=True)
class DetractorCta:
    """A risk CTA an answer raised, as the loop report reads it: who owns it (CSM, their
    manager, the pool), how it ended, and the account's first answer after it was closed."""

    id: int
    account_id: int
    account_external_id: str
    account_name: str
    owner_id: int | None
    owner_name: str | None
    owner_manager: int | None
    manager_name: str | None
    pool_id: int | None
    pool_name: str | None
    status: str
    outcome: str | None
    created_at: datetime
    closed_at: datetime | None
    withdrawn: bool  # the answer rules closed it: the person changed their score
    next_score: int | None
    next_answered_at: datetime | None


async def detractor_ctas(
    principal: Principal, date_from: datetime | None, date_to: datetime | None
) -> list[DetractorCta]:
    """The detractor CTAs raised in [date_from, date_to) that the principal may see (a CSM:
    those they own or of their accounts), oldest first."""
    scope = visible_to(principal)
    sql = queries.detractor_ctas_sql(
        sqlite=is_sqlite(),
        csm_scope=scope is not None,
        date_from=date_from is not None,
        date_to=date_to is not None,
    )
    args = [*([scope, scope] if scope is not None else []), date_from, date_to]
    rows = await fetch(sql, *(a for a in args if a is not None))
    return [_detractor_cta(row) for row in rows]


def _detractor_cta(row: Row) -> DetractorCta:
    created = as_utc_datetime(row["created_at"])
    assert created is not None
    return DetractorCta(
        id=row["id"],
        account_id=row["account_id"],
        account_external_id=row["account_external_id"],
        account_name=row["account_name"],
        owner_id=row["owner_id"],
        owner_name=row["owner_name"],
        owner_manager=row["owner_manager"],
        manager_name=row["manager_name"],
        pool_id=row["pool_id"],
        pool_name=row["pool_name"],
        status=row["status"],
        outcome=row["outcome"],
        created_at=created,
        closed_at=as_utc_datetime(row["closed_at"]),
        withdrawn=bool(row["withdrawn"]),
        next_score=None if row["next_score"] is None else int(row["next_score"]),
        next_answered_at=as_utc_datetime(row["next_answered_at"]),
    )
