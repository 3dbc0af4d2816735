"""CTA pages: a CSM's (or a manager's team's) Calls-to-Action, acting on one, and for admins
the CTA rules and the Slack outbox (what was, will be or could not be sent).

A CTA's actions are forms that POST to `/ctas/{id}` with the version shown (compare-and-set)
and an optional `next`, a local path to come back to (the Today page's inline forms), with
`?done=<outcome>` naming the notice to show. Pool CTAs nobody claimed have a Claim button
(`POST /pools/claim/{id}`, the pools' route)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.accounts.models import CSM
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.ctas.access import may_change
from feedback.ctas.access import team_of as team_members
from feedback.ctas.actions import (
    MAX_DUE_DAYS,
    MAX_SNOOZE_DAYS,
    OUTCOME_LABELS,
    SNOOZE_CHOICES,
    change_cta,
    raised_by_answer,
)
from feedback.ctas.reads import cta_history, get_changeable_cta, get_visible_cta, list_ctas
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import RULE_PARAMS, cta_rules, cta_types, update_cta_rules
from feedback.kernel.errors import Conflict, DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.mail import admin as mail_admin
from feedback.outbox import admin as outbox
from feedback.outbox.messages import ListedMessage
from feedback.settings import get_settings
from feedback.web.account_pages import enrol_form
from feedback.web.views import safe_next

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
    "set_due": "Due date changed.",
    "note": "Note added.",
    "stale": "The CTA changed since this was shown; here is its current state.",
    "already_assigned": "Already assigned to that CSM.",
    "unchanged": "Nothing to do: the CTA is {status}.",
    # the pools' Claim button comes back with these
    "claim": "Claimed: it is yours now.",
    "already_claimed": "Someone else claimed it first.",
    "already_yours": "It is yours already.",
    "not_member": "Only the pool's members can claim it.",
    "enrolled": "Enrolled. The first step runs at the worker's next round.",
}
OUTCOME_CHOICES = [(str(outcome), label) for outcome, label in OUTCOME_LABELS.items()]


def _int(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(field, "a whole number") from None


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(field, "a date like 2026-12-31") from None


def back_to(next_path: Any, cta_id: int) -> str:
    """Where a form goes back to: its `next` when that is a path on this site, else the CTA."""
    text = next_path if isinstance(next_path, str) else ""
    if not text or "\n" in text or "\r" in text:
        return f"/ctas/{cta_id}"
    target = safe_next(text)
    return f"/ctas/{cta_id}" if target == "/" and text != "/" else target


def with_done(path: str, outcome: str) -> str:
    """The path with `done=<outcome>` (replacing one it had), for the notice it shows."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"]
    query.append(("done", outcome))
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


async def _csms() -> list[dict[str, Any]]:
    return (
        await CSM.select(CSM.id, CSM.name, CSM.email, CSM.manager)
        .where(
            CSM.active == True  # noqa: E712
        )
        .order_by(CSM.name)
    )


def unclaimed(cta: CtaView) -> bool:
    """A pool's CTA that no specialist has claimed yet (a Claim button)."""
    return cta.pool_id is not None and cta.owner_id is None and cta.status != "closed"


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
        done: FromQuery[str | None] = None,
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
        message = NOTICES.get(done or "")
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
                "outcome_labels": dict(OUTCOME_CHOICES),
                "can_act": principal.role in ACT,
                "unclaimed": unclaimed,
                "message": None if message is None or "{" in message else message,
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
        next_path: str = "",
    ) -> Template:
        cta = await get_visible_cta(principal, cta_id)
        message = NOTICES.get(notice or "")
        today = datetime.now(UTC).date()
        return Template(
            "ctas/detail.html",
            status_code=(409 if isinstance(error, Conflict) else 422) if error else 200,
            context={
                "principal": principal,
                "cta": cta,
                "history": await cta_history(cta_id),
                "csms": await _csms(),
                "types": await cta_types(),
                "can_act": principal.role in ACT,
                "snooze_choices": SNOOZE_CHOICES,
                "outcomes": OUTCOME_CHOICES,
                "outcome_labels": dict(OUTCOME_CHOICES),
                "outcome_required": raised_by_answer(cta),
                "unclaimed": unclaimed(cta),
                "may_change": may_change(principal, cta),
                "enrol": await enrol_form(principal, cta.account_external_id, cta_id=cta.id),
                "today": today,
                "snooze_min": today + timedelta(days=1),
                "snooze_default": today + timedelta(days=7),
                "snooze_max": today + timedelta(days=MAX_SNOOZE_DAYS),
                "due_max": today + timedelta(days=MAX_DUE_DAYS),
                "next": next_path,
                "message": message.format(status=cta.status) if message else None,
                "error": error,
            },
        )

    @post("/{cta_id:int}", **access(*ACT))
    async def act(
        self, principal: CurrentPrincipal, cta_id: FromPath[int], request: FormRequest
    ) -> Redirect | Template:
        """One action of a form; back to `next` (a local path, else the CTA) with `done=`."""
        await get_changeable_cta(principal, cta_id)
        form = await request.form()
        next_path = str(form.get("next") or "")
        try:
            change = await change_cta(
                cta_id,
                str(form.get("action") or ""),
                actor=principal.actor,
                source="web",
                snooze_days=_int(form.get("snooze_days"), "snooze_days"),
                snooze_until=_date(form.get("snooze_until"), "snooze_until"),
                reason=str(form.get("reason") or ""),
                owner_id=_int(form.get("owner"), "owner"),
                outcome=str(form.get("outcome") or "") or None,
                due_on=_date(form.get("due_on"), "due_on"),
                expected_version=_int(form.get("version"), "version"),
            )
        except DomainError as exc:
            back = back_to(next_path, cta_id) if next_path else ""
            return await self._detail(principal, cta_id, error=exc, next_path=back)
        return Redirect(path=with_done(back_to(next_path, cta_id), change.outcome), status_code=303)


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
                "mail_waiting": _waiting(await mail_admin.mail_counts()),
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


def _waiting(counts: dict[str, int]) -> int:
    """Mails not sent yet: waiting for their time, or being sent."""
    return counts.get("pending", 0) + counts.get("sending", 0)
