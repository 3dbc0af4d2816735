"""CSRF protection bound to the browser's session, and a small cap on forms from strangers.

Each session (the encrypted session cookie) carries a random value; a form's token is an
HMAC of it, so a token taken from another browser's page is refused here, and signing in
starts a new value. Litestar's own CSRF middleware compares a cookie with a form field, both
of which an attacker holding a pair from their own browser can supply.

The form is read here, before any handler, so this is also where a form from someone not
signed in (and every sign-in form) is cut off at `ANONYMOUS_FORM_LIMIT` bytes: a 413 page,
and the rest of the body is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

from litestar.connection import Request
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from feedback.auth.sign_in import SESSION_USER_KEY

CSRF_SESSION_KEY = "csrf"
FORM_FIELD = "_csrf_token"
HEADER = b"x-csrftoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")
ANONYMOUS_FORM_LIMIT = 16 * 1024
SIGN_IN_PATH = "/login"

TOO_LARGE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>Form too large · Feedback</title>"
    '<link rel="stylesheet" href="/static/app.css"></head><body><main>'
    '<section class="card"><h1>That form was too large</h1>'
    f"<p>A sign-in form is at most {ANONYMOUS_FORM_LIMIT // 1024} KiB. "
    '<a href="/login">Go back to sign in</a>.</p></section></main></body></html>'
).encode()


class FormTooLarge(Exception):
    pass


def new_csrf_value() -> str:
    return secrets.token_hex(32)


def csrf_token_for(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _recording(receive: Receive, limit: int | None, messages: list[Any]) -> Receive:
    """Keeps what it reads for the middleware after this one; raises past `limit` bytes."""
    seen = 0

    async def recording_receive() -> Any:
        nonlocal seen
        message = await receive()
        messages.append(message)
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if limit is not None and seen > limit:
                raise FormTooLarge
        return message

    return recording_receive


def replaying(messages: list[Any], receive: Receive) -> Receive:
    pending = deque(messages)

    async def replay() -> Any:
        return pending.popleft() if pending else await receive()

    return replay


async def _answer_too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(TOO_LARGE_PAGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE_PAGE, "more_body": False})


def csrf_middleware(app: ASGIApp, secret: str, exclude: Sequence[str] = ()) -> ASGIApp:
    excluded = re.compile("|".join(exclude)) if exclude else None

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if (
            scope["type"] != "http"
            or (excluded is not None and excluded.match(scope["path"]))
            or not isinstance(session, dict)
        ):
            await app(scope, receive, send)
            return
        value = session.get(CSRF_SESSION_KEY)
        state = ScopeState.from_scope(scope)
        if cast("HTTPScope", scope)["method"] in SAFE_METHODS:
            if not isinstance(value, str):
                value = session[CSRF_SESSION_KEY] = new_csrf_value()
            state.csrf_token = csrf_token_for(secret, value)
            await app(scope, receive, send)
            return

        signed_in = SESSION_USER_KEY in session
        limit = None if signed_in and scope["path"] != SIGN_IN_PATH else ANONYMOUS_FORM_LIMIT
        length = content_length(scope)
        if limit is not None and length is not None and length > limit:
            await _answer_too_large(send)
            return
        submitted: Any = (_header(scope, HEADER) or b"").decode("latin-1") or None
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if submitted is None and content_type in FORM_TYPES:
            messages: list[Any] = []
            request: Request[Any, Any, Any] = Request(
                scope, receive=_recording(receive, limit, messages)
            )
            try:
                form = await request.form()
            except FormTooLarge:
                await _answer_too_large(send)
                return
            submitted = form.get(FORM_FIELD)
            receive = replaying(messages, receive)
        if not (
            isinstance(value, str)
            and isinstance(submitted, str)
            and hmac.compare_digest(submitted, csrf_token_for(secret, value))
        ):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = submitted
        await app(scope, receive, send)

    return middleware
