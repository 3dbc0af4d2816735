"""The account page's reads (issue 18): one account as a CSM sees it, from each domain's own
functions: its header, NPS per quarter with intervals, its answers a page at a time, its
health today and per day, its CTAs with their history, the programs it is in and its churn
events. Answers, NPS and health are production's; answers given on staging or development
keys are only counted, to say they were left out.

Who may read it is the account API's rule (`get_account`): an unknown account is "not found",
another CSM's is "forbidden"; every other role reads every account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM, ChurnEvent
from feedback.accounts.services import AccountView, answers_elsewhere, get_account
from feedback.ctas.reads import cta_history, list_ctas
from feedback.ctas.records import CtaView, HistoryEntry
from feedback.db import as_utc_datetime
from feedback.health.reads import latest_day
from feedback.health.services import account_history
from feedback.kernel.errors import NotFound
from feedback.kernel.principal import Principal
from feedback.pools.audience import PoolRef, pool_for_account
from feedback.programs.reads import AccountProgram, programs_of_account
from feedback.reports.explorer import ResponsesPage, responses_page
from feedback.reports.services import NPSGroup, NPSQuery, load_nps_report

ANSWERS_PER_PAGE = 25
HEALTH_DAYS = 90
# CTAs shown with their history, the newest first (an account has a handful)
CTAS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class Churn:
    kind: str
    noticed_at: datetime | None
    effective_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class Health:
    """The account's health: its newest snapshot (`day`, `score`, `band`, `components`) and
    its score per day over the last `HEALTH_DAYS` days of the book, oldest first."""

    day: date | None
    score: float | None
    band: str | None
    components: dict[str, Any]
    days: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class AccountOverview:
    account: AccountView
    csm_name: str | None
    csm_active: bool
    pool: PoolRef | None  # the pool serving it when no dedicated CSM does
    nps: NPSGroup  # every production answer
    nps_by_quarter: list[NPSGroup]
    answers: ResponsesPage  # production answers
    # answers given on staging or development keys, per environment: not counted anywhere
    elsewhere: dict[str, int]
    health: Health
    ctas: list[CtaView]
    history: dict[int, list[HistoryEntry]]
    programs: list[AccountProgram]
    churn: list[Churn]


async def account_overview(
    principal: Principal, external_id: str, answers_offset: int = 0
) -> AccountOverview:
    if "\x00" in external_id:
        raise NotFound(f"no account {external_id!r}")  # PostgreSQL text cannot hold NUL
    account = await get_account(principal, external_id)  # NotFound, Forbidden
    csm = None
    if account.csm_email is not None:
        csm = await CSM.select(CSM.name, CSM.active).where(CSM.email == account.csm_email).first()
    pool = None if csm is not None and csm["active"] else await pool_for_account(account.id)
    only_this = (("account", external_id),)
    overall = await load_nps_report(principal, NPSQuery(filters=only_this))
    quarters = await load_nps_report(principal, NPSQuery(filters=only_this, period="quarter"))
    answers = await responses_page(
        principal,
        filters={"account": external_id},
        limit=ANSWERS_PER_PAGE,
        offset=answers_offset,
    )
    ctas = await list_ctas(principal, status=None, account_id=account.id, limit=CTAS_SHOWN)
    ctas.sort(key=lambda c: (c.status == "closed", -(c.id)))
    history = {cta.id: await cta_history(cta.id) for cta in ctas}
    return AccountOverview(
        account=account,
        csm_name=None if csm is None else csm["name"],
        csm_active=bool(csm and csm["active"]),
        pool=pool,
        nps=overall.groups[0],
        nps_by_quarter=[g for g in quarters.groups if isinstance(g.period, str)],
        answers=answers,
        elsewhere=await answers_elsewhere(account.id),
        health=await _health(principal, external_id),
        ctas=ctas,
        history=history,
        programs=await programs_of_account(account.id),
        churn=await _churn(account.id),
    )


async def _health(principal: Principal, external_id: str) -> Health:
    last = await latest_day()
    if last is None:
        return Health(None, None, None, {}, [])
    days = (
        await account_history(principal, external_id, last - timedelta(days=HEALTH_DAYS - 1), last)
    )["days"]
    newest = days[-1] if days else None
    return Health(
        day=None if newest is None else _day(newest["day"]),
        score=None if newest is None else newest["score"],
        band=None if newest is None else newest["band"],
        components=(newest or {}).get("components") or {},
        days=days,
    )


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _churn(account_id: int) -> list[Churn]:
    rows = (
        await ChurnEvent.select(
            ChurnEvent.kind, ChurnEvent.noticed_at, ChurnEvent.effective_at, ChurnEvent.reason
        )
        .where(ChurnEvent.account == account_id)
        .order_by(ChurnEvent.noticed_at, ascending=False)
    )
    return [
        Churn(
            kind=row["kind"],
            noticed_at=as_utc_datetime(row["noticed_at"]),
            effective_at=as_utc_datetime(row["effective_at"]),
            reason=row["reason"],
        )
        for row in rows
    ]
