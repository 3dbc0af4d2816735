"""CTA pages: a CSM's (or a manager's team's) Calls-to-Action, acting on one, and for admins
the CTA rules and the Slack outbox (what was, will be or could not be sent)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.accounts.models import CSM
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.ctas.access import team_of as team_members
from feedback.ctas.actions import SNOOZE_CHOICES, change_cta
from feedback.ctas.reads import cta_history, get_visible_cta, list_ctas
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import RULE_PARAMS, cta_rules, cta_types, update_cta_rules
from feedback.kernel.errors import Conflict, DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.outbox import admin as outbox
from feedback.outbox.messages import ListedMessage
from feedback.settings import get_settings

FormRequest = Request[Any, Any, State]
ACT = (Role.admin, Role.manager, Role.csm)
# what the CTA page may say after an action: `?done=` names one of these, and anything else
# shows nothing (a link must not put words in the product's mouth)
NOTICES = {
    "acknowledge": "Acknowledged.",
    "snooze": "Snoozed.",
    "close": "Closed.",
    "reassign": "Reassigned.",
    "reopen": "Reopened.",
    "stale": "The CTA changed since this was shown; here is its current state.",
    "already_assigned": "Already assigned to that CSM.",
    "unchanged": "Nothing to do: the CTA is {status}.",
}


def _int(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(field, "a whole number") from None


async def _csms() -> list[dict[str, Any]]:
    return (
        await CSM.select(CSM.id, CSM.name, CSM.email, CSM.manager)
        .where(
            CSM.active == True  # noqa: E712
        )
        .order_by(CSM.name)
    )


class CtaPages(Controller):
    path = "/ctas"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", **access(*ALL_ROLES))
    async def index(
        self,
        principal: CurrentPrincipal,
        status: FromQuery[str] = "active",
        owner: FromQuery[str | None] = None,
        team_of: FromQuery[str | None] = None,
    ) -> Template:
        error = None
        ctas: list[CtaView] = []
        try:
            owners = None
            owner_id, team_id = _int(owner, "owner"), _int(team_of, "team_of")
            if owner_id is not None:
                owners = {owner_id}
            if team_id is not None:
                owners = (owners or set()) | await team_members(team_id)
            ctas = await list_ctas(
                principal, status=None if status == "all" else status, owner_ids=owners
            )
        except DomainError as exc:
            error = exc
        return Template(
            "ctas/index.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "ctas": ctas,
                "status": status,
                "owner": owner or "",
                "team_of": team_of or "",
                "owner_choices": [(str(c["id"]), c["name"]) for c in await _csms()],
                "types": await cta_types(),
                "error": error,
            },
        )

    @get("/{cta_id:int}", **access(*ALL_ROLES))
    async def detail(
        self, principal: CurrentPrincipal, cta_id: FromPath[int], done: FromQuery[str | None] = None
    ) -> Template:
        return await self._detail(principal, cta_id, notice=done)

    async def _detail(
        self,
        principal: Principal,
        cta_id: int,
        notice: str | None = None,
        error: DomainError | None = None,
    ) -> Template:
        cta = await get_visible_cta(principal, cta_id)
        message = NOTICES.get(notice or "")
        return Template(
            "ctas/detail.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "cta": cta,
                "history": await cta_history(cta_id),
                "csms": await _csms(),
                "types": await cta_types(),
                "can_act": principal.role in ACT,
                "snooze_choices": SNOOZE_CHOICES,
                "message": message.format(status=cta.status) if message else None,
                "error": error,
            },
        )

    @post("/{cta_id:int}", **access(*ACT))
    async def act(
        self, principal: CurrentPrincipal, cta_id: FromPath[int], request: FormRequest
    ) -> Redirect | Template:
        await get_visible_cta(principal, cta_id)
        form = await request.form()
        try:
            change = await change_cta(
                cta_id,
                str(form.get("action") or ""),
                actor=principal.actor,
                source="web",
                snooze_days=_int(form.get("snooze_days"), "snooze_days"),
                reason=str(form.get("reason") or ""),
                owner_id=_int(form.get("owner"), "owner"),
                expected_version=_int(form.get("version"), "version"),
            )
        except DomainError as exc:
            return await self._detail(principal, cta_id, error=exc)
        return Redirect(
            path=f"/ctas/{cta_id}", query_params={"done": change.outcome}, status_code=303
        )


class CtaAdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    guards = access(Role.admin)["guards"]

    @get("/cta-rules")
    async def rules(self, principal: CurrentPrincipal, saved: FromQuery[bool] = False) -> Template:
        return await self._rules(principal, saved=saved)

    async def _rules(
        self, principal: Principal, saved: bool = False, error: DomainError | None = None
    ) -> Template:
        return Template(
            "ctas/rules.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "rules": await cta_rules(),
                "params": RULE_PARAMS,
                "csms": await _csms(),
                "saved": saved,
                "error": error,
            },
        )

    @post("/cta-rules")
    async def save_rules(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        changes: dict[str, Any] = {}
        try:
            for name, params in RULE_PARAMS.items():
                change: dict[str, Any] = {"enabled": form.get(f"{name}.enabled") == "on"}
                for param in params:
                    value = _int(form.get(f"{name}.{param}"), f"{name}.{param}")
                    if value is not None:
                        change[param] = value
                changes[name] = change
            changes["default_owner"] = _int(form.get("default_owner"), "default_owner")
            await update_cta_rules(changes, principal.actor, "web")
        except DomainError as exc:
            return await self._rules(principal, error=exc)
        return Redirect(path="/admin/cta-rules", query_params={"saved": "true"}, status_code=303)

    @get("/outbox")
    async def outbox_page(
        self, principal: CurrentPrincipal, status: FromQuery[str | None] = None
    ) -> Template:
        return await self._outbox(principal, status)

    async def _outbox(
        self, principal: Principal, status: str | None, error: DomainError | None = None
    ) -> Template:
        messages: list[ListedMessage] = []
        try:
            messages = await outbox.list_messages(status or None, limit=200)
        except DomainError as exc:
            error = exc
        return Template(
            "ctas/outbox.html",
            status_code=(409 if isinstance(error, Conflict) else 422) if error else 200,
            context={
                "principal": principal,
                "messages": messages,
                "summary": await outbox.outbox_summary(),
                "backlog": await outbox.outbox_backlog(),
                "status": status or "",
                "statuses": outbox.STATUSES,
                "slack_configured": get_settings().slack.configured,
                "retry_hours": get_settings().slack.retry_hours,
                "error": error,
            },
        )

    @post("/outbox/retry")
    async def retry_all(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        """Every unrouted (or dead) message again; a refusal is shown on the page."""
        form = await request.form()
        try:
            await outbox.retry_all(str(form.get("status") or ""), principal.actor)
        except DomainError as exc:
            return await self._outbox(principal, None, exc)
        return Redirect(path="/admin/outbox", status_code=303)

    @post("/outbox/{message_id:int}/retry")
    async def retry(
        self, principal: CurrentPrincipal, message_id: FromPath[int]
    ) -> Redirect | Template:
        try:
            await outbox.retry(message_id, principal.actor)
        except DomainError as exc:
            return await self._outbox(principal, None, exc)
        return Redirect(path="/admin/outbox", status_code=303)
