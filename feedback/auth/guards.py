"""Who may call what: every handler names its roles with `allow(...)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from feedback.auth.services import authenticate_token
from feedback.auth.sign_in import principal_for_session
from feedback.kernel.principal import Principal, Role

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]

ALL_ROLES = (Role.admin, Role.manager, Role.csm, Role.analyst)
READ_ALL = (Role.admin, Role.manager, Role.analyst)


async def resolve_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """A bearer token wins over a session cookie; the result is cached on the connection."""
    state = connection.state
    if "principal" in state:
        return state["principal"]
    principal: Principal | None = None
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("use an Authorization: Bearer <token> header")
        principal = await authenticate_token(token.strip())
        if principal is None:
            raise NotAuthorizedException("unknown or revoked token")
    elif "session" in connection.scope:
        principal = await principal_for_session(connection.session)
    state["principal"] = principal
    return principal


def allow(*roles: Role) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await resolve_principal(connection)
        if principal is None:
            raise NotAuthorizedException("authentication required")
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise PermissionDeniedException(f"this needs one of the roles: {allowed}")

    guard.roles = roles  # type: ignore[attr-defined]
    return guard


def roles_note(*roles: Role) -> str:
    return "Roles: " + ", ".join(r.value for r in roles) + "."


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise NotAuthorizedException("authentication required")
    return principal


class ErrorItem(msgspec.Struct):
    field: str
    message: str


class ErrorBody(msgspec.Struct):
    """Every 4xx answer: what went wrong, and which field."""

    error: str
    detail: list[ErrorItem]


# the answers any authenticated operation may give besides its success, in the OpenAPI
ERROR_RESPONSES = {
    status: ResponseSpec(ErrorBody, description=text)
    for status, text in (
        (400, "Malformed request"),
        (401, "No or an invalid token"),
        (403, "The token's role may not do this, or the data belongs to another CSM"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (413, "Body too large"),
        (422, "Invalid input; `detail` names the field"),
    )
}


def access(*roles: Role) -> dict[str, Any]:
    """Keyword arguments for a route decorator: the guard, the roles in its OpenAPI text and
    the documented error answers."""
    return {
        "guards": [allow(*roles)],
        "description": roles_note(*roles),
        "responses": ERROR_RESPONSES,
    }


# handlers declare `principal: CurrentPrincipal` to receive the caller
CurrentPrincipal = NamedDependency[Principal]
