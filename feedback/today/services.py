"""Today: what needs a CSM (or a manager's team) today, for the web page, the API and the
Slack App Home alike.

Scope: a CSM sees the CTAs they own or, when nobody owns one, of their accounts, and their
accounts' answers, health and renewals; a manager linked to a CSM record sees their team
(everyone reporting to them, directly or not, `feedback.ctas.access.team_of`, and
themselves); a manager without a CSM link, an admin and an analyst see everyone. Unclaimed
pool CTAs are those of the pools the scope's CSMs are members of or manage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from feedback.ctas.access import team_of
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import cta_rules
from feedback.db import as_utc_datetime, fetch, json_object
from feedback.health.reads import latest_day, newest_scores
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Principal, Role
from feedback.today import queries

T = TypeVar("T")

# items each list holds (the counts count them all); the web page shows fewer
LIST_SIZE = 50
RENEWAL_DAYS = 90
RED_DAYS = 7


def last_working_day(day: date) -> date:
    """The working day (Monday to Friday) before `day`: Friday for a Monday, a Saturday or
    a Sunday."""
    back = {0: 3, 6: 2}.get(day.weekday(), 1)
    return day - timedelta(days=back)


@dataclass(frozen=True, slots=True)
class Counts:
    overdue: int
    due_today: int
    new_detractors: int
    red_accounts: int
    renewals_90d: int
    going_dark: int
    unclaimed_pool: int


@dataclass(frozen=True, slots=True)
class NewDetractor:
    """A detractor's answer since the last working day, with who answered."""

    response_id: int
    account_external_id: str
    account_name: str
    person: str  # the user's name (a `name` trait), else their email, else their id
    email: str | None
    role: str | None  # as they answered, else the user's role now
    score: int
    comment: str | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class RedAccount:
    """An account that moved into the red band, or whose health dropped, in 7 days."""

    account_external_id: str
    account_name: str
    csm_name: str | None
    arr_cents: int | None
    currency: str
    score: float | None
    band: str
    score_before: float | None
    band_before: str
    change: float | None
    into_red: bool


@dataclass(frozen=True, slots=True)
class Renewal:
    """An account renewing in the next 90 days, with its NPS over the last year (None
    without answers) and its newest health."""

    account_external_id: str
    account_name: str
    csm_name: str | None
    arr_cents: int | None
    currency: str
    renewal_date: date
    days_left: int
    responses: int
    nps: float | None
    health_score: float | None
    health_band: str | None


@dataclass(frozen=True, slots=True)
class DarkAccount:
    """A live account with no answer and no product activity for the going-dark rule's
    days, and its going-dark CTA if one is open."""

    account_external_id: str
    account_name: str
    csm_name: str | None
    arr_cents: int | None
    currency: str
    last_activity: datetime | None
    cta_id: int | None


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One CSM of a manager's team and their CTAs."""

    csm_id: int
    name: str
    email: str
    overdue: int
    due_today: int
    open: int


@dataclass(frozen=True, slots=True)
class Today:
    """What needs the principal today. `team` and the pool section are a manager's (and an
    admin's); a CSM's `team` is None."""

    day: date
    since: datetime  # new detractors are those answered from here on
    health_day: date | None  # the health snapshot the red accounts are read from
    going_dark_days: int
    counts: Counts
    overdue: list[CtaView]
    due_today: list[CtaView]
    new_detractors: list[NewDetractor]
    red_accounts: list[RedAccount]
    renewals: list[Renewal]
    going_dark: list[DarkAccount]
    unclaimed_pool: list[CtaView]
    team: list[TeamMember] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


async def scope_of(principal: Principal) -> frozenset[int] | None:
    """The CSMs whose work the principal's Today shows; None for everyone."""
    if principal.role is Role.csm:
        return frozenset() if principal.csm_id is None else frozenset({principal.csm_id})
    if principal.role is Role.manager and principal.csm_id is not None:
        return frozenset(await team_of(principal.csm_id))
    return None


@dataclass(frozen=True, slots=True)
class _Scope:
    """The scope's CSM ids as bound parameters: `n` of them (None: everyone)."""

    n: int | None
    ids: list[int]


async def _scope(principal: Principal) -> _Scope:
    scope = await scope_of(principal)
    if scope is None:
        return _Scope(None, [])
    if not scope:
        return _Scope(1, [-1])  # a CSM without a CSM record: nothing matches
    return _Scope(len(scope), sorted(scope))


async def today_for(
    principal: Principal, now: datetime | None = None, limit: int = LIST_SIZE
) -> Today:
    """What needs the principal today (`now`, default the clock's), each list holding at
    most `limit` items; the counts count them all."""
    now = now or utcnow()
    day = now.date()
    scope = await _scope(principal)
    n, ids = scope.n, scope.ids
    twice = ids + ids
    rules = await cta_rules()

    overdue = await _ctas(queries.due_ctas_sql(n, overdue=True), day, *twice, limit)
    due_today = await _ctas(queries.due_ctas_sql(n, overdue=False), day, *twice, limit)
    by_owner = await fetch(queries.cta_counts_sql(n), day, day, *twice)

    since = datetime.combine(last_working_day(day), time.min, tzinfo=UTC)
    detractors = [
        _detractor(row) for row in await fetch(queries.detractors_sql(n), since, now, *ids, limit)
    ]
    detractor_total = await _count(queries.detractor_count_sql_for(n), since, now, *ids)

    health_day = await latest_day()
    red: list[RedAccount] = []
    if health_day is not None:
        drop = float(rules["health_alert"]["drop_points"])
        rows = await fetch(
            queries.health_drops_sql(n),
            health_day - timedelta(days=RED_DAYS),
            health_day,
            drop,
            *ids,
        )
        red = [_red(row) for row in rows]

    renewals, renewal_total = await _renewals(scope, now, 0, limit)
    dark_days = int(rules["going_dark"]["days"])
    dark, dark_total = await _going_dark(scope, now, dark_days, 0, limit)

    unclaimed = await _ctas(queries.unclaimed_sql(n), *twice, limit)
    unclaimed_total = await _count(queries.unclaimed_count_sql(n), *twice)

    team = None
    if principal.role is not Role.csm:
        team = await _team(n, ids, by_owner)

    return Today(
        day=day,
        since=since,
        health_day=health_day,
        going_dark_days=dark_days,
        counts=Counts(
            overdue=sum(int(r["overdue"] or 0) for r in by_owner),
            due_today=sum(int(r["due_today"] or 0) for r in by_owner),
            new_detractors=detractor_total,
            red_accounts=len(red),
            renewals_90d=renewal_total,
            going_dark=dark_total,
            unclaimed_pool=unclaimed_total,
        ),
        overdue=overdue,
        due_today=due_today,
        new_detractors=detractors,
        red_accounts=red[:limit],
        renewals=renewals,
        going_dark=dark,
        unclaimed_pool=unclaimed,
        team=team,
    )


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of a Today list in full: `items` from `offset`, of `total`."""

    items: list[T]
    total: int
    offset: int
    limit: int


async def renewals_for(
    principal: Principal, now: datetime | None = None, offset: int = 0, limit: int = LIST_SIZE
) -> Listing[Renewal]:
    """The accounts in the principal's scope renewing in the next 90 days, the soonest
    first, from `offset`."""
    items, total = await _renewals(await _scope(principal), now or utcnow(), offset, limit)
    return Listing(items, total, offset, limit)


async def going_dark_for(
    principal: Principal, now: datetime | None = None, offset: int = 0, limit: int = LIST_SIZE
) -> tuple[Listing[DarkAccount], int]:
    """The accounts in the principal's scope going dark, the largest first, from `offset`,
    and the going-dark rule's days."""
    days = int((await cta_rules())["going_dark"]["days"])
    items, total = await _going_dark(await _scope(principal), now or utcnow(), days, offset, limit)
    return Listing(items, total, offset, limit), days


async def _renewals(
    scope: _Scope, now: datetime, offset: int, limit: int
) -> tuple[list[Renewal], int]:
    day = now.date()
    horizon = day + timedelta(days=RENEWAL_DAYS)
    year_ago = now - timedelta(days=365)
    rows = await fetch(
        queries.renewals_sql(scope.n), day, horizon, *scope.ids, limit, offset, year_ago, now
    )
    health = await newest_scores([row["id"] for row in rows]) if rows else {}
    total = await _count(queries.renewal_count_sql(scope.n), day, horizon, *scope.ids)
    return [_renewal(row, day, health) for row in rows], total


async def _going_dark(
    scope: _Scope, now: datetime, days: int, offset: int, limit: int
) -> tuple[list[DarkAccount], int]:
    cutoff = now - timedelta(days=days)
    where = [cutoff, cutoff, cutoff, *scope.ids]
    rows = await fetch(queries.going_dark_sql(scope.n), *where, limit, offset)
    total = await _count(queries.going_dark_count_sql(scope.n), *where)
    return [_dark(row) for row in rows], total


async def _ctas(sql: str, *args: Any) -> list[CtaView]:
    rows = await fetch(sql, *args)
    health = await newest_scores([row["account_id"] for row in rows]) if rows else {}
    views = []
    for row in rows:
        newest = health.get(row["account_id"])
        row["health_score"] = None if newest is None else newest.score
        row["health_band"] = None if newest is None else newest.band
        views.append(CtaView.from_row(row))
    return views


async def _count(sql: str, *args: Any) -> int:
    rows = await fetch(sql, *args)
    return int(rows[0]["n"] or 0) if rows else 0


def _detractor(row: dict[str, Any]) -> NewDetractor:
    traits = json_object(row["user_traits"]) if row["user_traits"] is not None else {}
    name = traits.get("name")
    person = (
        str(name)
        if isinstance(name, str) and name.strip()
        else row["user_email"] or row["user_external_id"] or "someone"
    )
    return NewDetractor(
        response_id=row["id"],
        account_external_id=row["account_external_id"],
        account_name=row["account_name"],
        person=person,
        email=row["user_email"],
        role=row["role"] or row["user_role"],
        score=int(row["score"]),
        comment=row["comment"],
        answered_at=as_utc_datetime(row["answered_at"]),
    )


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _red(row: dict[str, Any]) -> RedAccount:
    score, before = _float(row["score"]), _float(row["score_before"])
    return RedAccount(
        account_external_id=row["external_id"],
        account_name=row["name"],
        csm_name=row["csm_name"],
        arr_cents=row["arr_cents"],
        currency=row["currency"] or "USD",
        score=score,
        band=row["band"],
        score_before=before,
        band_before=row["band_before"],
        change=None if score is None or before is None else round(score - before, 1),
        into_red=bool(row["into_red"]),
    )


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _renewal(row: dict[str, Any], day: date, health: dict[int, Any]) -> Renewal:
    responses = int(row["responses"] or 0)
    nps = None
    if responses:
        nps = round(100 * (int(row["promoters"] or 0) - int(row["detractors"] or 0)) / responses, 1)
    renewal = _day(row["renewal_date"])
    newest = health.get(row["id"])
    return Renewal(
        account_external_id=row["external_id"],
        account_name=row["name"],
        csm_name=row["csm_name"],
        arr_cents=row["arr_cents"],
        currency=row["currency"] or "USD",
        renewal_date=renewal,
        days_left=(renewal - day).days,
        responses=responses,
        nps=nps,
        health_score=None if newest is None else newest.score,
        health_band=None if newest is None else newest.band,
    )


def _dark(row: dict[str, Any]) -> DarkAccount:
    moments = [as_utc_datetime(row[k]) for k in ("last_answer", "last_seen")]
    return DarkAccount(
        account_external_id=row["external_id"],
        account_name=row["name"],
        csm_name=row["csm_name"],
        arr_cents=row["arr_cents"],
        currency=row["currency"] or "USD",
        last_activity=max((m for m in moments if m is not None), default=None),
        cta_id=row["cta"],
    )


async def _team(n: int | None, ids: list[int], by_owner: list[dict[str, Any]]) -> list[TeamMember]:
    """Each active CSM in scope with CTAs, or in a linked manager's team, and their counts;
    the most overdue first."""
    counts = {row["owner"]: row for row in by_owner}
    members = []
    for csm in await fetch(queries.team_names_sql(n), True, *ids):
        row = counts.get(csm["id"])
        if row is None and n is None:
            continue  # everyone's Today lists the CSMs who have CTAs
        members.append(
            TeamMember(
                csm_id=csm["id"],
                name=csm["name"],
                email=csm["email"],
                overdue=int(row["overdue"] or 0) if row else 0,
                due_today=int(row["due_today"] or 0) if row else 0,
                open=int(row["open"] or 0) if row else 0,
            )
        )
    members.sort(key=lambda m: (-m.overdue, -m.due_today, m.name))
    return members


async def reassign_choices(principal: Principal) -> list[tuple[int, str]]:
    """The active CSMs a principal may hand a CTA to from Today, by name: a linked manager's
    team, everyone's for an admin or a manager without a CSM link; none for a CSM."""
    if principal.role not in (Role.manager, Role.admin):
        return []
    scope = await scope_of(principal)
    ids = sorted(scope) if scope is not None else []
    rows = await fetch(queries.team_names_sql(None if scope is None else len(ids)), True, *ids)
    return [(row["id"], row["name"]) for row in rows]
