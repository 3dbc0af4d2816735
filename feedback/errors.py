"""One error shape for every API: `{"error": ..., "detail": [{"field": ..., "message": ...}]}`."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

log = logging.getLogger("feedback.errors")


class InputError(ValidationException):
    """Bad input in one named field: answered with 422 and the field's name."""

    def __init__(self, field: str, message: str, status_code: int = HTTP_422_UNPROCESSABLE_ENTITY):
        self.field = field
        self.message = message
        super().__init__(
            detail=f"{field}: {message}",
            status_code=status_code,
            extra=[{"field": field, "message": message}],
        )


_NAMED_IN_MESSAGE = re.compile(r"(?:unknown field|required field|at) `\$?\.?([^`]+)`")


def _detail_items(extra: Any) -> list[dict[str, str]]:
    items: list[dict[str, str]] = []
    if isinstance(extra, list):
        for item in extra:
            if not isinstance(item, dict):
                continue
            message = str(item.get("message", ""))
            field = str(item.get("field") or item.get("key") or item.get("source") or "body")
            if field in ("data", "body"):
                # msgspec names the offending body field inside its message
                named = _NAMED_IN_MESSAGE.search(message)
                field = named.group(1) if named else "body"
            items.append({"field": field, "message": message})
    return items


def error_body(error: str, detail: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": error, "detail": detail or []}


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(("/api/", "/healthz", "/schema", "/widget/"))


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException) and _wants_html(request):
        return Redirect(path="/login", query_params={"next": request.url.path})
    detail = _detail_items(exc.extra)
    if isinstance(exc, ValidationException) and not isinstance(exc, InputError):
        error = "validation failed"
        if not detail:
            detail = [{"field": "body", "message": exc.detail}]
    else:
        error = exc.detail
        if not detail and exc.status_code == 400:
            detail = [{"field": "body", "message": exc.detail}]
    return Response(
        content=error_body(error, detail),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


# how long clients should wait before trying again while the database is away (a restart or a
# failover usually takes a few seconds)
DATABASE_RETRY_AFTER_SECONDS = 5


def _raised_in_asyncpg(exc: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").startswith("asyncpg")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says the database cannot be reached
    now: refused, cut or timed-out connections, a server shutting down or starting up, no
    free connection slot. Not a bug in the request: the answer is 503, and the same request
    succeeds once the database is back (the pool opens new connections by itself)."""
    import asyncpg

    unreachable = (
        asyncpg.PostgresConnectionError,  # also "connection was closed in the middle of operation"
        asyncpg.AdminShutdownError,  # terminating connection due to administrator command
        asyncpg.CrashShutdownError,
        asyncpg.CannotConnectNowError,  # the database system is starting up / shutting down
        asyncpg.TooManyConnectionsError,
    )
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, unreachable):
            return True
        # a pooled connection the server ended while it was idle (a restart) can be handed
        # out before asyncpg reads the end of the stream; its protocol is still consuming
        # the server's "terminating connection" error
        if isinstance(cause, asyncpg.InternalClientError) and str(cause).startswith(
            "cannot switch to state"
        ):
            return True
        # refused, reset, unresolvable host, connect timeout: only when the driver raised it
        # (a Slack call timing out is not the database)
        if isinstance(cause, OSError | TimeoutError) and _raised_in_asyncpg(cause):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if database_unavailable(exc):
        # one line, no traceback: every request logs this while the database is away
        log.warning(
            "database unavailable on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        return Response(
            content=error_body(
                "database unavailable",
                [
                    {
                        "field": "database",
                        "message": f"retry in {DATABASE_RETRY_AFTER_SECONDS} s",
                    }
                ],
            ),
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
            headers={"retry-after": str(DATABASE_RETRY_AFTER_SECONDS)},
            media_type="application/json",
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        content=error_body("internal server error"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type="application/json",
    )


EXCEPTION_HANDLERS = {
    HTTPException: http_exception_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
