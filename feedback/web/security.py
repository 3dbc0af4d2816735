"""Security headers on every response: a strict content policy (the API docs page allows
Swagger UI's inline styles), and HSTS in production."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI's files are served by the service (feedback/web/api_docs.py) and it is started
# by a script file; it sets style attributes as it renders, so /schema allows inline styles
# and nothing else does.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def security_headers(hsts: bool = False) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook: Litestar runs it on every response, including the 404 and 405
    its router answers before any middleware runs. `hsts`: in production, browsers are
    told to use HTTPS only, for a year."""
    common = {**COMMON, "strict-transport-security": HSTS} if hsts else COMMON

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path == "/schema" or path.startswith("/schema/") else STRICT_CSP
        headers = MutableScopeHeaders.from_message(message)
        if "content-security-policy" not in headers:
            headers["content-security-policy"] = csp
        for name, value in common.items():
            if name not in headers:
                headers[name] = value

    return add_headers
