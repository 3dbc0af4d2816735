"""Reading the customer book and keeping account status in step with churn events."""

from __future__ import annotations

from typing import Any

from feedback.accounts.models import CSM, Account, AccountStatus, ChurnEvent, EndUser
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Forbidden, NotFound
from feedback.kernel.principal import Principal


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
)


def account_out(row: dict[str, Any]) -> dict[str, Any]:
    cents = row.pop("arr_cents")
    row.pop("csm", None)
    row["arr"] = None if cents is None else f"{cents // 100}.{cents % 100:02d}"
    return row


async def list_accounts(
    principal: Principal,
    *,
    csm_email: str | None = None,
    plan: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = Account.select(*ACCOUNT_FIELDS).output(load_json=True)
    if not principal.can_see_csm(None):
        query = query.where(Account.csm == principal.csm_id)
    if csm_email:
        query = query.where(Account.csm.email == csm_email.lower())
    if plan:
        query = query.where(Account.plan == plan)
    if status:
        query = query.where(Account.status == status)
    rows = await query.order_by(Account.external_id).limit(limit).offset(offset)
    return [account_out(r) for r in rows]


async def get_account(principal: Principal, external_id: str) -> dict[str, Any]:
    row = (
        await Account.select(*ACCOUNT_FIELDS)
        .where(Account.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no account {external_id!r}")
    if not principal.can_see_csm(row["csm"]):
        raise Forbidden("this account belongs to another CSM")
    return account_out(row)


USER_FIELDS = (
    EndUser.external_id,
    EndUser.account.external_id.as_alias("account_id"),
    EndUser.role,
    EndUser.email,
    EndUser.locale,
    EndUser.traits,
    EndUser.first_seen_at,
    EndUser.last_seen_at,
)


async def list_account_users(principal: Principal, external_id: str) -> list[dict[str, Any]]:
    await get_account(principal, external_id)
    return await (
        EndUser.select(*USER_FIELDS)
        .where(EndUser.account.external_id == external_id)
        .order_by(EndUser.external_id)
        .output(load_json=True)
    )


async def get_end_user(principal: Principal, external_id: str) -> dict[str, Any]:
    row = (
        await EndUser.select(*USER_FIELDS, EndUser.account.csm.as_alias("csm"))
        .where(EndUser.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no user {external_id!r}")
    if not principal.can_see_csm(row.pop("csm")):
        raise Forbidden("this user's account belongs to another CSM")
    return row


async def list_csms() -> list[dict[str, Any]]:
    return await CSM.select(
        CSM.id,
        CSM.name,
        CSM.email,
        CSM.slack_user_id,
        CSM.slack_channel,
        CSM.manager.email.as_alias("manager_email"),
        CSM.active,
    ).order_by(CSM.email)
