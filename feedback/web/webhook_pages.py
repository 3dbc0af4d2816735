"""The webhooks admin page: the endpoints with their state, registering one (its secret shown
once, on the endpoint's page after the redirect), an endpoint's settings, switching it off
and on, rotating its secret and deleting it (each behind a confirmation), and its delivery
log with "Send again"."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from feedback.auth.guards import CurrentPrincipal, access
from feedback.kernel.environments import ENVIRONMENTS
from feedback.kernel.errors import DomainError
from feedback.kernel.principal import Principal, Role
from feedback.web.report_views import StaffPages
from feedback.webhooks import services
from feedback.webhooks.services import (
    DELIVERY_STATUSES,
    EndpointChange,
    EndpointIn,
)

FormRequest = Request[Any, Any, State]
# the new or rotated secret, carried in the encrypted session cookie to the one view after
# the redirect that shows it (never in an address, never shown twice)
SECRET_FLASH = "webhook_secret"  # noqa: S105 (a session key's name)
DELIVERIES_SHOWN = 50
NOTICES = {
    "created": "Endpoint registered and switched on. Events from now on are sent to it.",
    "saved": "Saved.",
    "enabled": "Switched on: events from now on are sent to it.",
    "disabled": "Switched off: nothing is sent to it until you switch it on again.",
    "rotated": "New secret made: requests are signed with it from now on.",
    "deleted": "Endpoint deleted, with its delivery log.",
    "replayed": "Queued to be sent again, with the same body and event id.",
    "replayed_dead": "Every dead delivery is queued to be sent again, each with its own body "
    "and event id.",
}
EVENT_WORDS = {
    "response.created": "An answer is given (its score)",
    "response.commented": "An answer gets its comment, or the comment is edited",
    "cta.created": "A CTA is raised",
    "cta.changed": "A CTA changes (acknowledged, snoozed, closed, reassigned, a new signal)",
    "health.band_changed": "An account's health moves to another band in the daily snapshot",
    "program.completed": "Someone completes a program",
    "person.unsubscribed": "A person unsubscribes, or an admin stops mail to them",
}
STATUS_TAGS = {"pending": "info", "sending": "info", "delivered": "good", "dead": "bad"}


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _draft(form: Any) -> dict[str, Any]:
    """The form's fields as it shows them again after an error."""
    return {
        "url": _text(form, "url"),
        "description": _text(form, "description"),
        "events": [v for v in form.getall("events", []) if isinstance(v, str)],
        "environment": _text(form, "environment") or "production",
    }


def _done(path: str, outcome: str) -> Redirect:
    return Redirect(path=path, query_params={"done": outcome}, status_code=303)


def _flash(request: FormRequest, endpoint_id: int, secret: str) -> None:
    request.set_session({**request.session, SECRET_FLASH: {"id": endpoint_id, "secret": secret}})


def _take_flash(request: FormRequest, endpoint_id: int) -> str | None:
    """The secret to show on this endpoint's page, once: it leaves the session whatever page
    reads it first."""
    flashed = request.session.get(SECRET_FLASH) if request.session else None
    if flashed is None:
        return None
    request.set_session({k: v for k, v in request.session.items() if k != SECRET_FLASH})
    return flashed.get("secret") if flashed.get("id") == endpoint_id else None


class WebhookPages(StaffPages):
    path = "/admin/webhooks"

    @get("/", **access(Role.admin))
    async def index(
        self, principal: CurrentPrincipal, done: FromQuery[str | None] = None
    ) -> Template:
        return await self._index(principal, notice=NOTICES.get(done or ""))

    async def _index(
        self,
        principal: Principal,
        *,
        draft: dict[str, Any] | None = None,
        error: DomainError | None = None,
        notice: str | None = None,
    ) -> Template:
        return Template(
            "admin/webhooks.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "endpoints": await services.list_endpoints(),
                "draft": draft
                or {"url": "", "description": "", "events": [], "environment": "production"},
                "event_words": EVENT_WORDS,
                "environments": ENVIRONMENTS,
                "error": error,
                "notice": notice,
            },
        )

    @post("/", **access(Role.admin))
    async def create(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        """Post/Redirect/Get: a reload of the endpoint's page registers nothing again."""
        form = await request.form()
        draft = _draft(form)
        try:
            created = await services.create_endpoint(
                EndpointIn(
                    url=draft["url"],
                    events=draft["events"],
                    description=draft["description"],
                    environment=draft["environment"],
                ),
                principal.actor,
                "web",
            )
        except DomainError as exc:
            return await self._index(principal, draft=draft, error=exc)
        _flash(request, created["id"], created["secret"])
        return _done(f"/admin/webhooks/{created['id']}", "created")

    @get("/{endpoint_id:int}", **access(Role.admin))
    async def detail(
        self,
        principal: CurrentPrincipal,
        request: FormRequest,
        endpoint_id: FromPath[int],
        done: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        before: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> Template:
        endpoint = await services.get_endpoint(endpoint_id)
        return await self._detail(
            principal,
            endpoint,
            secret=_take_flash(request, endpoint_id),
            notice=NOTICES.get(done or ""),
            status=status or None,
            before=before,
        )

    async def _detail(
        self,
        principal: Principal,
        endpoint: dict[str, Any],
        *,
        secret: str | None = None,
        notice: str | None = None,
        draft: dict[str, Any] | None = None,
        error: DomainError | None = None,
        status: str | None = None,
        before: int | None = None,
    ) -> Template:
        shown_status = status if status in DELIVERY_STATUSES else None
        deliveries = await services.list_deliveries(
            endpoint["id"], shown_status, DELIVERIES_SHOWN + 1, before
        )
        more = len(deliveries) > DELIVERIES_SHOWN
        deliveries = deliveries[:DELIVERIES_SHOWN]
        return Template(
            "admin/webhook.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "endpoint": endpoint,
                "secret": secret,
                "notice": notice,
                "draft": draft or endpoint,
                "error": error,
                "event_words": EVENT_WORDS,
                "environments": ENVIRONMENTS,
                "deliveries": deliveries,
                "statuses": DELIVERY_STATUSES,
                "status": shown_status or "",
                "status_tags": STATUS_TAGS,
                "before": before,
                "next_before": deliveries[-1]["id"] if more and deliveries else None,
                "dead_total": await services.dead_deliveries(endpoint["id"]),
            },
        )

    @post("/{endpoint_id:int}", **access(Role.admin))
    async def save(
        self, principal: CurrentPrincipal, request: FormRequest, endpoint_id: FromPath[int]
    ) -> Redirect | Template:
        endpoint = await services.get_endpoint(endpoint_id)
        form = await request.form()
        draft = _draft(form)
        try:
            await services.change_endpoint(
                endpoint_id,
                EndpointChange(
                    url=draft["url"],
                    events=draft["events"],
                    description=draft["description"],
                    environment=draft["environment"],
                ),
                principal.actor,
                "web",
            )
        except DomainError as exc:
            return await self._detail(principal, endpoint, draft={**endpoint, **draft}, error=exc)
        return _done(f"/admin/webhooks/{endpoint_id}", "saved")

    @post("/{endpoint_id:int}/disable", **access(Role.admin))
    async def disable(self, principal: CurrentPrincipal, endpoint_id: FromPath[int]) -> Redirect:
        await services.set_active(endpoint_id, False, principal.actor, "web")
        return _done(f"/admin/webhooks/{endpoint_id}", "disabled")

    @post("/{endpoint_id:int}/enable", **access(Role.admin))
    async def enable(self, principal: CurrentPrincipal, endpoint_id: FromPath[int]) -> Redirect:
        await services.set_active(endpoint_id, True, principal.actor, "web")
        return _done(f"/admin/webhooks/{endpoint_id}", "enabled")

    # the confirmation steps: a page that says what happens, with the one button that does it

    @get("/{endpoint_id:int}/rotate-secret", **access(Role.admin))
    async def confirm_rotate(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> Template:
        return self._confirm(principal, await services.get_endpoint(endpoint_id), "rotate")

    @get("/{endpoint_id:int}/delete", **access(Role.admin))
    async def confirm_delete(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> Template:
        return self._confirm(principal, await services.get_endpoint(endpoint_id), "delete")

    def _confirm(self, principal: Principal, endpoint: dict[str, Any], action: str) -> Template:
        return Template(
            "admin/webhook_confirm.html",
            context={"principal": principal, "endpoint": endpoint, "action": action},
        )

    @post("/{endpoint_id:int}/rotate-secret", **access(Role.admin))
    async def rotate(
        self, principal: CurrentPrincipal, request: FormRequest, endpoint_id: FromPath[int]
    ) -> Redirect:
        rotated = await services.rotate_secret(endpoint_id, principal.actor, "web")
        _flash(request, endpoint_id, rotated["secret"])
        return _done(f"/admin/webhooks/{endpoint_id}", "rotated")

    @post("/{endpoint_id:int}/delete", **access(Role.admin))
    async def delete(self, principal: CurrentPrincipal, endpoint_id: FromPath[int]) -> Redirect:
        await services.delete_endpoint(endpoint_id, principal.actor, "web")
        return _done("/admin/webhooks", "deleted")

    @post("/{endpoint_id:int}/deliveries/replay-dead", **access(Role.admin))
    async def replay_dead(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> Redirect:
        await services.replay_dead(endpoint_id, principal.actor, "web")
        return _done(f"/admin/webhooks/{endpoint_id}", "replayed_dead")

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/replay", **access(Role.admin))
    async def replay(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int], delivery_id: FromPath[int]
    ) -> Redirect | Template:
        try:
            await services.replay(endpoint_id, delivery_id, principal.actor, "web")
        except DomainError as exc:
            endpoint = await services.get_endpoint(endpoint_id)
            return await self._detail(principal, endpoint, error=exc)
        return _done(f"/admin/webhooks/{endpoint_id}", "replayed")
