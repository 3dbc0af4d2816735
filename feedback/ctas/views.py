"""CTA API: list, read, create, act; rules, types and the outbox for admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from feedback.accounts.models import Account
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.ctas.access import team_of as team_members
from feedback.ctas.actions import change_cta
from feedback.ctas.reads import (
    cta_history,
    get_changeable_cta,
    get_visible_cta,
    list_ctas,
    load_cta,
)
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import add_cta_type, cta_rules, cta_types, update_cta_rules
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.outbox import admin as outbox

MANAGE = (Role.admin, Role.manager, Role.csm)


class CtaAction(msgspec.Struct, forbid_unknown_fields=True):
    """An action (`feedback.ctas.actions.change_cta`): `snooze` takes `snooze_days` or
    `snooze_until` (a date) with a `reason`; `close` an `outcome` and/or a `reason` (the
    note); `reassign` an `owner` (a CSM's id); `set_due` a `due_on` date; `note` a `reason`."""

    action: str
    snooze_days: int | None = None
    snooze_until: date | None = None
    reason: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    owner: int | None = None
    outcome: str | None = None
    due_on: date | None = None
    expected_version: int | None = None


class CtaIn(msgspec.Struct, forbid_unknown_fields=True):
    account: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    detail: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    priority: Annotated[int, msgspec.Meta(ge=1, le=4)] = 3
    due_on: date | None = None


class CtaTypeIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    label: str


HIDDEN = {"slack_channel", "slack_ts", "account_csm", "owner_manager"}


def cta_json(cta: CtaView) -> dict[str, Any]:
    return {k: v for k, v in cta.as_dict().items() if k not in HIDDEN}


async def create_cta(principal: Principal, data: CtaIn) -> dict[str, Any]:
    """A CTA raised by a person (an onboarding call, a business review, ...)."""
    types = await cta_types()
    if data.type not in types:
        raise InputError("type", f"unknown type; types: {', '.join(types)}")
    account = (
        await Account.select(Account.id, Account.csm)
        .where(Account.external_id == data.account)
        .first()
    )
    if account is None or not principal.can_see_csm(account["csm"]):
        raise InputError("account", f"no account {data.account!r}")
    async with write_transaction():
        cta_id, what = await raise_signal(
            Signal(
                account_id=account["id"],
                type=data.type,
                reason=data.reason.strip(),
                detail=data.detail,
                priority=data.priority,
                due_on=data.due_on,
                trigger={"kind": "manual", "by": principal.actor},
                actor=principal.actor,
            ),
            utcnow(),
        )
    cta = await load_cta(cta_id)
    assert cta is not None
    return {"result": what, "cta": cta_json(cta)}


class CtaController(Controller):
    path = "/api/v1"
    tags = ["ctas"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/ctas", summary="CTAs (a CSM sees those of their accounts)", **access(*ALL_ROLES))
    async def list_ctas(
        self,
        principal: CurrentPrincipal,
        status: FromQuery[str] = "active",
        owner: FromQuery[int | None] = None,
        account: FromQuery[str | None] = None,
        type_: Annotated[str | None, QueryParameter(name="type")] = None,
        team_of: FromQuery[int | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        owners: set[int] | None = None
        if owner is not None:
            owners = {owner}
        if team_of is not None:
            owners = (owners or set()) | await team_members(team_of)
        account_id = None
        if account is not None:
            row = await Account.select(Account.id).where(Account.external_id == account).first()
            if row is None:
                raise InputError("account", f"no account {account!r}")
            account_id = row["id"]
        rows = await list_ctas(
            principal,
            status=None if status == "all" else status,
            owner_ids=owners,
            account_id=account_id,
            type_=type_,
            limit=limit,
        )
        return [cta_json(row) for row in rows]

    @post("/ctas", summary="Raise a CTA by hand", status_code=201, **access(*MANAGE))
    async def create(self, principal: CurrentPrincipal, data: JSONBody[CtaIn]) -> dict[str, Any]:
        return await create_cta(principal, data)

    @get("/ctas/{cta_id:int}", summary="One CTA with its history", **access(*ALL_ROLES))
    async def get_cta(self, principal: CurrentPrincipal, cta_id: FromPath[int]) -> dict[str, Any]:
        cta = await get_visible_cta(principal, cta_id)
        history = [entry.as_dict() for entry in await cta_history(cta_id)]
        return {**cta_json(cta), "history": history}

    @post(
        "/ctas/{cta_id:int}/actions",
        summary="Acknowledge, snooze, close, reassign, reopen, change the due date or note",
        status_code=200,
        **access(*MANAGE),
    )
    async def act(
        self, principal: CurrentPrincipal, cta_id: FromPath[int], data: JSONBody[CtaAction]
    ) -> dict[str, Any]:
        """`action`: acknowledge, snooze (`snooze_days` 1-365, or `snooze_until` a date
        after today with a `reason`), close (`outcome`: contacted, resolved, no_response,
        not_actionable or churned, required for a CTA an answer raised; `reason` the note,
        required without an outcome), reassign (`owner`), reopen (also a closed CTA),
        set_due (`due_on`, today or later) or note (`reason`). With `expected_version` the
        action is a compare-and-set: `changed` false and the current CTA when it moved on.
        A bad field is a 422 naming it."""
        await get_changeable_cta(principal, cta_id)
        change = await change_cta(
            cta_id,
            data.action,
            actor=principal.actor,
            source=principal.source,
            snooze_days=data.snooze_days,
            snooze_until=data.snooze_until,
            reason=data.reason,
            owner_id=data.owner,
            outcome=data.outcome,
            due_on=data.due_on,
            expected_version=data.expected_version,
        )
        return {"changed": change.changed, "message": change.message, "cta": cta_json(change.cta)}

    @get("/cta-rules", summary="The CTA rules and their settings", **access(Role.admin))
    async def get_rules(self) -> dict[str, Any]:
        return await cta_rules()

    @put("/cta-rules", summary="Change CTA rules (partial)", **access(Role.admin))
    async def put_rules(
        self, principal: CurrentPrincipal, data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        return await update_cta_rules(data, principal.actor, principal.source)

    @get("/cta-types", summary="CTA types", **access(*ALL_ROLES))
    async def get_types(self) -> dict[str, str]:
        return await cta_types()

    @post("/cta-types", summary="Add a CTA type", status_code=201, **access(Role.admin))
    async def add_type(self, data: JSONBody[CtaTypeIn]) -> dict[str, str]:
        return await add_cta_type(data.key, data.label)

    @get(
        "/outbox",
        summary="Slack messages: queued, dead or unrouted, with what they would show",
        **access(Role.admin),
    )
    async def list_outbox(
        self,
        status: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        return [message.as_dict() for message in await outbox.list_messages(status, limit)]

    @post(
        "/outbox/{message_id:int}/retry",
        summary="Send a dead or unrouted message again",
        status_code=200,
        **access(Role.admin),
    )
    async def retry(self, principal: CurrentPrincipal, message_id: FromPath[int]) -> dict[str, Any]:
        return await outbox.retry(message_id, principal.actor)

    @post(
        "/outbox/retry",
        summary="Send every dead or unrouted message again (e.g. once Slack is configured)",
        status_code=200,
        **access(Role.admin),
    )
    async def retry_all(
        self, principal: CurrentPrincipal, status: FromQuery[str] = "unrouted"
    ) -> dict[str, Any]:
        return await outbox.retry_all(status, principal.actor)
