"""Security headers on every response: a strict content policy (the API docs page allows
Swagger UI's inline styles), and HSTS in production."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

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


def security_headers_middleware(app: ASGIApp, hsts: bool = False) -> ASGIApp:
    """`hsts`: in production, browsers are told to use HTTPS only, for a year."""
    common = {**COMMON, "strict-transport-security": HSTS} if hsts else COMMON

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path == "/schema" or path.startswith("/schema/") else STRICT_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = csp
                for name, value in common.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
