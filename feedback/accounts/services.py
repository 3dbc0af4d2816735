"""Reading the customer book and keeping account status in step with churn events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from feedback.accounts.models import CSM, Account, AccountStatus, ChurnEvent, EndUser
from feedback.db import fetch
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import Forbidden, NotFound
from feedback.kernel.principal import Principal
from feedback.pools.audience import pool_for_account
from feedback.pools.models import PoolMember

# accounts promoted per statement (an import names many at once)
PROMOTE_CHUNK = 500


async def apply_due_churn() -> int:
    """Mark accounts churned once one of their churn events has taken effect.

    Runs after every churn or account import and in the worker, so a non-renewal noticed
    today with an effective date next month flips the account on that date.
    """
    due = ChurnEvent.select(ChurnEvent.account).where(ChurnEvent.effective_at <= utcnow())
    changed = (
        await Account.update(
            {Account.status: AccountStatus.churned.value, Account.updated_at: utcnow()}
        )
        .where(Account.id.is_in(due) & (Account.status != AccountStatus.churned.value))
        .returning(Account.id)
    )
    return len(changed)


async def promote_to_production(account_ids: Iterable[int]) -> None:
    """Make accounts first seen through staging or development keys production: a
    production widget key, an import or the API named them, so they are real customers. Only
    the rows still elsewhere are written (one statement; nothing for production ones)."""
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), PROMOTE_CHUNK):
        await Account.update({Account.environment: PRODUCTION}).where(
            Account.id.is_in(ids[start : start + PROMOTE_CHUNK])
            & (Account.environment != PRODUCTION)
        )


async def promote_users_to_production(external_ids: Iterable[str], now: datetime) -> None:
    """Make users first seen through staging or development keys production: an import named
    them. Only the rows still elsewhere are written (one statement per chunk), and their
    `created_at` becomes now: a program's `user_added` scan reads users by it, and they are
    new to production now (`identify` does the same for a production key's call)."""
    ids = sorted(set(external_ids))
    for start in range(0, len(ids), PROMOTE_CHUNK):
        await EndUser.update({EndUser.environment: PRODUCTION, EndUser.created_at: now}).where(
            EndUser.external_id.is_in(ids[start : start + PROMOTE_CHUNK])
            & (EndUser.environment != PRODUCTION)
        )


# An account's answers given on keys other than production, per environment: environment,
# n (response_account_answered_at). Parameters: the account.
_ANSWERS_ELSEWHERE = """
SELECT environment, COUNT(*) AS n FROM response
WHERE account = {} AND environment <> 'production'
GROUP BY environment ORDER BY environment"""


async def answers_elsewhere(account_id: int) -> dict[str, int]:
    """How many of the account's answers came through staging or development keys, per
    environment (none listed when there are none): the account page counts production
    answers only and says how many it left out."""
    rows = await fetch(_ANSWERS_ELSEWHERE, account_id)
    return {str(row["environment"]): int(row["n"]) for row in rows}


class AccountView(msgspec.Struct, kw_only=True):
    """An account as the API shows it (its JSON object has these keys in this order)."""

    id: int
    external_id: str
    name: str
    plan: str | None
    industry: str | None
    employee_count: int | None
    company_size: str | None
    currency: str
    csm_email: str | None
    renewal_date: date | None
    status: str
    traits: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    arr: str | None  # exact, in currency units: "1234.50"
    # production, or staging/development for an account seen only through such keys: left
    # out of every production list and count (docs/environments.md)
    environment: str = PRODUCTION


class EndUserView(msgspec.Struct, kw_only=True):
    """An end user as the API shows them."""

    external_id: str
    account_id: str  # the account's external id
    role: str | None
    email: str | None
    locale: str | None
    traits: dict[str, Any]
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    # production, or staging/development for a user seen only through such keys: listed
    # still, but no program enrols them and health does not count them (docs/environments.md)
    environment: str = PRODUCTION


class CsmView(msgspec.Struct, kw_only=True):
    """A CSM as the API shows them, with their manager's email."""

    id: int
    name: str
    email: str
    slack_user_id: str | None
    slack_channel: str | None
    manager_email: str | None
    active: bool
    kind: str = "dedicated"  # or "pooled": a specialist of a pool
    meeting_url: str | None = None  # where customers book a meeting with them


ACCOUNT_FIELDS = (
    Account.id,
    Account.external_id,
    Account.name,
    Account.plan,
    Account.industry,
    Account.employee_count,
    Account.company_size,
    Account.arr_cents,
    Account.currency,
    Account.csm.email.as_alias("csm_email"),
    Account.csm,
    Account.renewal_date,
    Account.status,
    Account.traits,
    Account.created_at,
    Account.updated_at,
    Account.environment,
)


def account_view(row: dict[str, Any]) -> AccountView:
    """From a row of ACCOUNT_FIELDS."""
    cents = row["arr_cents"]
    return AccountView(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        plan=row["plan"],
        industry=row["industry"],
        employee_count=row["employee_count"],
        company_size=row["company_size"],
        currency=row["currency"],
        csm_email=row["csm_email"],
        renewal_date=row["renewal_date"],
        status=row["status"],
        traits=row["traits"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        arr=None if cents is None else f"{cents // 100}.{cents % 100:02d}",
        environment=row.get("environment") or PRODUCTION,
    )


async def list_accounts(
    principal: Principal,
    *,
    csm_email: str | None = None,
    plan: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AccountView]:
    # accounts seen only through staging or development keys are no customers of the book
    query = (
        Account.select(*ACCOUNT_FIELDS)
        .where(Account.environment == PRODUCTION)
        .output(load_json=True)
    )
    if not principal.can_see_csm(None):
        query = query.where(Account.csm == principal.csm_id)
    if csm_email:
        query = query.where(Account.csm.email == csm_email.lower())
    if plan:
        query = query.where(Account.plan == plan)
    if status:
        query = query.where(Account.status == status)
    rows = await query.order_by(Account.external_id).limit(limit).offset(offset)
    return [account_view(r) for r in rows]


async def get_account(principal: Principal, external_id: str) -> AccountView:
    row = (
        await Account.select(*ACCOUNT_FIELDS)
        .where(Account.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no account {external_id!r}")
    if not principal.can_see_csm(row["csm"]) and not await _serves_in_its_pool(principal, row):
        raise Forbidden("this account belongs to another CSM")
    return account_view(row)


async def _serves_in_its_pool(principal: Principal, row: dict[str, Any]) -> bool:
    """Whether a CSM is an active member of the pool serving an account without a dedicated
    CSM (a pooled specialist reads the accounts of their pool's CTAs)."""
    if principal.csm_id is None or row["csm"] is not None:
        return False
    pool = await pool_for_account(row["id"])
    return pool is not None and await PoolMember.exists().where(
        (PoolMember.pool == pool.id) & (PoolMember.csm == principal.csm_id)
    )


USER_FIELDS = (
    EndUser.external_id,
    EndUser.account.external_id.as_alias("account_id"),
    EndUser.role,
    EndUser.email,
    EndUser.locale,
    EndUser.traits,
    EndUser.first_seen_at,
    EndUser.last_seen_at,
    EndUser.environment,
)


def end_user_view(row: dict[str, Any]) -> EndUserView:
    """From a row of USER_FIELDS."""
    return EndUserView(
        external_id=row["external_id"],
        account_id=row["account_id"],
        role=row["role"],
        email=row["email"],
        locale=row["locale"],
        traits=row["traits"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        environment=row.get("environment") or PRODUCTION,
    )


async def list_account_users(principal: Principal, external_id: str) -> list[EndUserView]:
    await get_account(principal, external_id)
    rows = await (
        EndUser.select(*USER_FIELDS)
        .where(EndUser.account.external_id == external_id)
        .order_by(EndUser.external_id)
        .output(load_json=True)
    )
    return [end_user_view(r) for r in rows]


async def get_end_user(principal: Principal, external_id: str) -> EndUserView:
    row = (
        await EndUser.select(*USER_FIELDS, EndUser.account.csm.as_alias("csm"))
        .where(EndUser.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no user {external_id!r}")
    if not principal.can_see_csm(row["csm"]):
        raise Forbidden("this user's account belongs to another CSM")
    return end_user_view(row)


async def list_csms() -> list[CsmView]:
    rows = await CSM.select(
        CSM.id,
        CSM.name,
        CSM.email,
        CSM.slack_user_id,
        CSM.slack_channel,
        CSM.manager.email.as_alias("manager_email"),
        CSM.active,
        CSM.kind,
        CSM.meeting_url,
    ).order_by(CSM.email)
    return [CsmView(**row) for row in rows]


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account as a look-up finds it: its keys, name, ARR and CSM."""

    id: int
    external_id: str
    name: str
    arr_cents: int | None
    csm: int | None
