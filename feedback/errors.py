"""One error shape for every API: `{"error": ..., "detail": [{"field": ..., "message": ...}]}`,
and one error page for every staff page.

The web layer's side of errors: Litestar's own exceptions and the domains' refusals
(`feedback.kernel.errors`) are answered here, each with its status. Which of the two answers
a request gets is decided by its path (`wants_html`): a person in a browser reads a page in
words (templates/errors/error.html), a program reads the JSON body."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.utils.empty import Empty
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from feedback.db.errors import DATABASE_RETRY_AFTER_SECONDS, database_unavailable
from feedback.kernel.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InputError,
    NotFound,
    Unauthenticated,
    UnsupportedInput,
)

__all__ = ["DATABASE_RETRY_AFTER_SECONDS", "InputError", "database_unavailable"]

log = logging.getLogger("feedback.errors")


# what each kind of refusal is answered with
DOMAIN_ERROR_STATUS: dict[type[DomainError], int] = {
    UnsupportedInput: HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    InputError: HTTP_422_UNPROCESSABLE_ENTITY,
    NotFound: HTTP_404_NOT_FOUND,
    Conflict: HTTP_409_CONFLICT,
    Forbidden: HTTP_403_FORBIDDEN,
    Unauthenticated: HTTP_401_UNAUTHORIZED,
}


def status_of(exc: DomainError) -> int:
    """The status a domain error is answered with: its nearest kind's."""
    for kind in type(exc).__mro__:
        if kind in DOMAIN_ERROR_STATUS:
            return DOMAIN_ERROR_STATUS[kind]
    return HTTP_400_BAD_REQUEST


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


def error_body(error: str, detail: Sequence[Mapping[str, object]] | None = None) -> dict[str, Any]:
    """The one error shape; `detail` names the fields at fault (`FieldProblem`s, or an
    import's rejected rows, which also carry their line)."""
    return {"error": error, "detail": detail or []}


# paths that programs call: they keep the JSON body whatever goes wrong
MACHINE_PATHS = (
    "/api/",
    "/healthz",
    "/livez",
    "/metrics",
    "/schema",
    "/widget/",
    "/slack/",
    "/static/",
)


def wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(MACHINE_PATHS)


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit} ({count} bytes)"
    return f"{count} bytes"


def body_too_large(request: Request[Any, Any, Any]) -> tuple[str, list[dict[str, str]]]:
    """A 413's error and detail: what the limit of this endpoint is."""
    limit = request.route_handler.resolve_request_max_body_size()
    message = (
        f"larger than this endpoint's limit of {_size(limit)}"
        if limit
        else "larger than this endpoint accepts"
    )
    return "request body too large", [{"field": "body", "message": message}]


# the page when the error page's template itself cannot be rendered
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{status} · Feedback</title>
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <main id="main" class="error-page">
    <p class="status">Error {status}</p>
    <h1>{title}</h1>
    <p>{message}</p>
    <p><a href="/">Go to the home page</a></p>
  </main>
</body>
</html>
"""

# per status: the page's heading, and what happened and what to do when the error says
# nothing a person could use
PAGE_WORDS: dict[int, tuple[str, str]] = {
    400: ("Please check what you sent", "The request could not be read. Go back and try again."),
    403: (
        "You cannot open this page",
        "Your role does not include this page. If you need it, ask an admin to change your role.",
    ),
    404: (
        "Page not found",
        "There is no page at this address. If you typed it, check it; if you followed a link, "
        "start again from the home page.",
    ),
    405: (
        "This page does not take that request",
        "The address is right, but it cannot be used this way. Open it from the menu instead.",
    ),
    409: (
        "This changed in the meantime",
        "Someone else changed it while you were looking. Reload the page and try again.",
    ),
    413: ("What you sent is too large", "Send less at once and try again."),
    415: ("This kind of file is not accepted", "Send a file of a kind the page asks for."),
    422: ("Please check what you sent", "A value is not valid. Go back, correct it and try again."),
    429: ("Too many requests", "Wait a minute and try again."),
    500: (
        "Something went wrong on our side",
        "The error has been logged. Try again in a moment; if it keeps happening, tell your "
        "administrator the time it happened.",
    ),
    503: (
        "The service is unavailable",
        f"The database is not reachable. Try again in {DATABASE_RETRY_AFTER_SECONDS} seconds.",
    ),
}
# messages of Litestar's own that mean nothing to a person
_GENERIC = {"Not Found", "Method Not Allowed", "Internal Server Error", "Bad Request", ""}
_CSRF_FAILED = (
    "This form has expired or did not come from this site. Go back, reload the page and send "
    "the form again."
)


def _words_for(status: int) -> tuple[str, str]:
    if status in PAGE_WORDS:
        return PAGE_WORDS[status]
    return PAGE_WORDS[500] if status >= 500 else PAGE_WORDS[400]


def error_page(
    request: Request[Any, Any, Any],
    status: int,
    message: str | Markup = "",
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    """The one error page of the staff pages (templates/errors/error.html): the status, what
    happened and what to do next, and a way home. Rendered here rather than as a Template
    response so the input rule (feedback/web/inputs.py), which answers outside a route
    handler, sends the same page."""
    title, advice = _words_for(status)
    if not message or message in _GENERIC:
        message = advice
        advice = ""
    state = request.scope.get("state") or {}
    principal = state.get("principal") if isinstance(state, Mapping) else None
    body: str
    try:
        template = request.app.template_engine.get_template("errors/error.html")  # type: ignore[union-attr]
        csrf = ScopeState.from_scope(request.scope).csrf_token
        csrf_value = "" if csrf is Empty or not isinstance(csrf, str) else csrf
        body = template.render(
            request=request,
            principal=principal,
            status=status,
            title=title,
            message=message,
            advice=advice,
            # a page no route answers has not read the session: who is asking is unknown
            hide_sign_in=principal is None,
            csrf_input=Markup('<input type="hidden" name="_csrf_token" value="{}">').format(
                csrf_value
            ),
        )
    except Exception:  # the error page must not fail: the plain one instead
        log.exception("the error page could not be rendered")
        body = _PAGE.format(status=status, title=html.escape(title), message=escape(message))
    return Response(body, status_code=status, media_type="text/html", headers=dict(headers or {}))


def _domain_message(exc: DomainError) -> Markup | str:
    if exc.field is not None:
        return Markup("Please check <strong>{}</strong>: {}").format(exc.field, exc.message)
    return exc.error


def page_refusal(exc: DomainError, request: Request[Any, Any, Any] | None = None) -> Response[str]:
    """A refusal on a staff page that has no error page of its own: the error page, since
    the API's JSON body means nothing to someone using a browser."""
    status = status_of(exc)
    if request is not None:
        return error_page(request, status, _domain_message(exc))
    title, _ = _words_for(status)
    return Response(
        _PAGE.format(status=status, title=html.escape(title), message=escape(_domain_message(exc))),
        status_code=status,
        media_type="text/html",
    )


def http_error(
    request: Request[Any, Any, Any], exc: HTTPException
) -> tuple[str, list[dict[str, str]]]:
    """A Litestar exception's `error` and `detail` in the one error shape (the widget's
    endpoints answer them with their CORS headers)."""
    detail = _detail_items(exc.extra)
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE and not detail:
        return body_too_large(request)
    if isinstance(exc, ValidationException):
        return "validation failed", detail or [{"field": "body", "message": exc.detail}]
    if not detail and exc.status_code == 400:
        detail = [{"field": "body", "message": exc.detail}]
    return exc.detail, detail


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException) and wants_html(request):
        return Redirect(path="/login", query_params={"next": request.url.path})
    if wants_html(request):
        message: str | Markup = exc.detail
        if exc.status_code == HTTP_403_FORBIDDEN and "CSRF" in exc.detail:
            message = _CSRF_FAILED
        elif exc.status_code == HTTP_403_FORBIDDEN:
            message = ""  # "this needs one of the roles: ..." is for programs
        elif exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            message = body_too_large(request)[1][0]["message"].capitalize() + "."
        else:
            detail = _detail_items(exc.extra)
            if detail and detail[0]["field"] not in ("body", "data"):
                message = Markup("Please check <strong>{}</strong>: {}").format(
                    detail[0]["field"], detail[0]["message"]
                )
        return error_page(request, exc.status_code, message, exc.headers)
    error, detail = http_error(request, exc)
    return Response(
        content=error_body(error, detail),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def refused_by_the_database(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is PostgreSQL refusing a value a
    request carried: a number beyond its column, a character it cannot store, a date beyond
    its range, text longer than its column. The input rule (feedback/web/inputs.py) and the
    views refuse these first, naming the field; this is the net under them (SQLite stores
    such values as they are)."""
    import asyncpg

    refusals = (
        asyncpg.NumericValueOutOfRangeError,
        asyncpg.CharacterNotInRepertoireError,
        asyncpg.UntranslatableCharacterError,
        asyncpg.DatetimeFieldOverflowError,
        asyncpg.StringDataRightTruncationError,
    )
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, refusals):
            return True
        # a value the driver could not send as its parameter's type: "invalid input for
        # query argument $1: ... (value out of int32 range)"
        if type(cause) is asyncpg.DataError and isinstance(cause.__cause__, OverflowError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if refused_by_the_database(exc):
        log.warning(
            "the database refused a value of %s %s: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        if wants_html(request):
            return error_page(request, HTTP_422_UNPROCESSABLE_ENTITY, "A value is out of range.")
        return Response(
            content=error_body(
                "a value is out of the range the database stores",
                [{"field": "request", "message": "a value is out of range"}],
            ),
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            media_type="application/json",
        )
    if database_unavailable(exc):
        # one line, no traceback: every request logs this while the database is away
        log.warning(
            "database unavailable on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        if wants_html(request):
            return error_page(
                request,
                HTTP_503_SERVICE_UNAVAILABLE,
                headers={"retry-after": str(DATABASE_RETRY_AFTER_SECONDS)},
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
    if wants_html(request):
        return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR)
    return Response(
        content=error_body("internal server error"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type="application/json",
    )


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = status_of(exc)
    if status == HTTP_401_UNAUTHORIZED and wants_html(request):
        return Redirect(path="/login", query_params={"next": request.url.path})
    if wants_html(request):
        return error_page(request, status, _domain_message(exc))
    return Response(
        content=error_body(exc.error, exc.detail),
        status_code=status,
        media_type="application/json",
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
