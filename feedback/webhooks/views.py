"""The webhooks API: `/api/v1/webhooks` (admins register endpoints, read their delivery
logs, send a delivery again). See docs/webhooks.md."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.kernel.principal import Role
from feedback.webhooks import services
from feedback.webhooks.services import EndpointChange, EndpointIn


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="Webhook endpoints (never their secrets)", **access(Role.admin))
    async def list_all(self) -> list[dict[str, Any]]:
        """Each with `failing_since` (its oldest delivery still being retried) and
        `last_delivery`."""
        return await services.list_endpoints()

    @post(
        "/",
        summary="Register an endpoint; the answer shows its signing secret, once",
        status_code=201,
        **access(Role.admin),
    )
    async def create(
        self, principal: CurrentPrincipal, data: JSONBody[EndpointIn]
    ) -> dict[str, Any]:
        """`url`: http(s) only, not a loopback, link-local or private address unless
        FEEDBACK_WEBHOOK_ALLOW_PRIVATE; `events`: one or more of response.created,
        response.commented, cta.created, cta.changed, health.band_changed,
        program.completed, person.unsubscribed; `environment`: whose events it gets
        (production unless given). `secret` (`whsec_...`) is never shown again: keep it
        with the receiver, which verifies each request's `Feedback-Signature` with it."""
        return await services.create_endpoint(data, principal.actor, principal.source)

    @get("/{endpoint_id:int}", summary="One endpoint (never its secret)", **access(Role.admin))
    async def get_one(self, endpoint_id: FromPath[int]) -> dict[str, Any]:
        return await services.get_endpoint(endpoint_id)

    @patch("/{endpoint_id:int}", summary="Change an endpoint", **access(Role.admin))
    async def change(
        self,
        principal: CurrentPrincipal,
        endpoint_id: FromPath[int],
        data: JSONBody[EndpointChange],
    ) -> dict[str, Any]:
        """Any of `url`, `events`, `description`, `environment`, `active`. `active: true`
        switches on an endpoint that was switched off (by an admin, or by the service after
        failing for a day) and clears `disabled_reason`."""
        return await services.change_endpoint(endpoint_id, data, principal.actor, principal.source)

    @delete(
        "/{endpoint_id:int}",
        summary="Delete an endpoint and its delivery log",
        status_code=200,
        **access(Role.admin),
    )
    async def remove(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> dict[str, Any]:
        await services.delete_endpoint(endpoint_id, principal.actor, principal.source)
        return {"deleted": endpoint_id}

    @post(
        "/{endpoint_id:int}/rotate-secret",
        summary="A new signing secret, shown once; the old one stops signing at once",
        status_code=200,
        **access(Role.admin),
    )
    async def rotate(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> dict[str, Any]:
        return await services.rotate_secret(endpoint_id, principal.actor, principal.source)

    @get(
        "/{endpoint_id:int}/deliveries",
        summary="An endpoint's delivery log, the newest first",
        **access(Role.admin),
    )
    async def deliveries(
        self,
        endpoint_id: FromPath[int],
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        before: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> list[dict[str, Any]]:
        """`status`: pending, sending, delivered or dead; `before`: a delivery id, for the
        page after the one that ended with it. Each: `event_id` (`evt_...`, the payload's
        `id`), `type`, `status`, `attempts`, `last_status` (the receiver's last HTTP
        status), `last_error`, `created`, `delivered`."""
        return await services.list_deliveries(endpoint_id, status, limit, before)

    @post(
        "/{endpoint_id:int}/deliveries/replay-dead",
        summary="Send every dead delivery of the endpoint again",
        status_code=202,
        **access(Role.admin),
    )
    async def replay_dead(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int]
    ) -> Response[dict[str, Any]]:
        """Each with the body and event id it had; `queued`: how many."""
        queued = await services.replay_dead(endpoint_id, principal.actor, principal.source)
        return Response({"queued": queued}, status_code=202)

    @post(
        "/{endpoint_id:int}/deliveries/{delivery_id:int}/replay",
        summary="Send a dead or delivered delivery again (the same body and event id)",
        status_code=202,
        **access(Role.admin),
    )
    async def replay(
        self, principal: CurrentPrincipal, endpoint_id: FromPath[int], delivery_id: FromPath[int]
    ) -> Response[dict[str, Any]]:
        """409 while it is still waiting or being sent."""
        await services.replay(endpoint_id, delivery_id, principal.actor, principal.source)
        return Response({"queued": delivery_id}, status_code=202)
