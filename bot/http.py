"""`POST /slack/events`: Slack's Events API, interactivity and slash commands, handed to bolt.

There is no Litestar adapter for bolt, and mounting bolt's ASGI app changes the path it
sees, so this route builds bolt's request from the raw body and headers and returns bolt's
response. In this order:

1. an `ssl_check` (Slack checking the certificate; it carries nothing to act on) is 200;
2. the signature is checked on the raw bytes (401 when it is missing, forged, stale or
   its timestamp is not a number): nothing unsigned is parsed;
3. the signed body is parsed defensively (400 for a body that cannot be one of Slack's
   requests: bolt assumes Slack's shapes and must not see anything else);
4. bolt dispatches it; a listener that failed answers 503, so Slack retries an event
   (events are marked seen only once handled: bot/app.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from litestar import Request, Response, post
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from feedback.errors import error_body

log = logging.getLogger("feedback.slack")

MAX_SLACK_BODY = 1024 * 1024
# Slack refuses requests older than five minutes; so does bolt
MAX_AGE_SECONDS = 5 * 60
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
EVENT_TYPES = ("event_callback", "url_verification", "app_rate_limited")


@post(
    "/slack/events",
    include_in_schema=False,
    status_code=200,
    request_max_body_size=MAX_SLACK_BODY,
)
async def slack_events(request: Request[Any, Any, Any]) -> Response[Any]:
    bolt: AsyncApp | None = request.app.state.get("bolt")
    if bolt is None:
        return Response(
            error_body(
                "Slack is not configured",
                [{"field": "FEEDBACK_SLACK_BOT_TOKEN", "message": "not set on this server"}],
            ),
            status_code=404,
        )
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if is_ssl_check(body, content_type):
        return Response(b"", status_code=200, media_type="text/plain")
    secret = request.app.state["settings"].slack.signing_secret or ""
    problem = signature_problem(
        body,
        request.headers.get("x-slack-request-timestamp"),
        request.headers.get("x-slack-signature"),
        secret,
    )
    if problem is not None:
        return Response(
            error_body("not signed by Slack", [{"field": problem[0], "message": problem[1]}]),
            status_code=401,
        )
    problem = malformed(body, content_type)
    if problem is not None:
        return Response(
            error_body("not a Slack request", [{"field": problem[0], "message": problem[1]}]),
            status_code=400,
        )
    grouped: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        grouped.setdefault(name.lower(), []).append(value)
    headers: dict[str, str | Sequence[str]] = dict(grouped)
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8"),
        query=request.url.query or None,
        headers=headers,
    )
    answer = await bolt.async_dispatch(bolt_request)
    if answer.status >= 500:
        # a listener failed (a Web API call it needed, the database): Slack retries an event
        # that was not answered 2xx, and the event was not marked seen (bot/app.py)
        log.warning("slack: a listener failed; answered 503 so that Slack retries")
        return Response(
            error_body(
                "could not handle it now",
                [{"field": "body", "message": "try again later (Slack retries events)"}],
            ),
            status_code=503,
            headers={"Retry-After": "60"},
        )
    flat = {name: values[0] for name, values in answer.headers.items() if values}
    return Response(
        content=answer.body.encode() if isinstance(answer.body, str) else answer.body,
        status_code=answer.status,
        headers=flat,
        media_type=flat.get("content-type", "text/plain;charset=utf-8"),
    )


def is_ssl_check(body: bytes, content_type: str) -> bool:
    """Slack's certificate check: a small form with `ssl_check=1` (answered 200 unsigned,
    as bolt does; it acts on nothing)."""
    if "json" in content_type or len(body) > 2000 or b"ssl_check" not in body:
        return False
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return form.get("ssl_check") == ["1"]


def signature_problem(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: Callable[[], float] = time.time,
) -> tuple[str, str] | None:
    """(header, reason) when the request is not signed by Slack with `secret`, else None.
    Checked on the raw bytes, before anything parses the body."""
    if not timestamp or not TIMESTAMP.fullmatch(timestamp):
        return "x-slack-request-timestamp", "expected the request's time in whole seconds"
    if abs(now() - int(timestamp)) > MAX_AGE_SECONDS:
        return "x-slack-request-timestamp", "older than five minutes, or in the future"
    if not signature or not SIGNATURE.fullmatch(signature) or not secret:
        return "x-slack-signature", "expected v0= and an HMAC-SHA256 in hex"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "x-slack-signature", "does not match the body"
    return None


def _json(text: str) -> Any:
    """JSON, or ValueError (also for nesting deeper than Python's parser can follow)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def malformed(body: bytes, content_type: str) -> tuple[str, str] | None:
    """(field, reason) when a signed body cannot be one of Slack's requests, else None.
    Parses as bolt will (JSON for `application/json` or a body that starts with `{`, else a
    form, whose `payload`, when the body names one, is JSON), so that bolt never meets a
    shape it would crash on."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body", "not UTF-8"
    if not text:
        return None
    if content_type.split(";")[0].strip().lower() == "application/json" or text.startswith("{"):
        try:
            data = _json(text)
        except ValueError as exc:
            return "body", f"not JSON ({exc})"
        if not isinstance(data, dict):
            return "body", "expected a JSON object"
        if data.get("type") not in EVENT_TYPES:
            return "type", "not an Events API request"
        event = data.get("event")
        if data["type"] == "event_callback" and (
            not isinstance(event, dict) or not isinstance(event.get("type"), str)
        ):
            return "event", "expected an object with a type"
        return None
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" not in text or "payload" not in form:
        if "command" in form and not form.get("user_id"):
            return "user_id", "missing"
        return None
    try:
        payload = _json(form["payload"])
    except ValueError as exc:
        return "payload", f"not JSON ({exc})"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "payload", "expected an object with a type"
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "payload.user", "expected an object with an id"
    actions = payload.get("actions")
    if actions is not None and (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return "payload.actions", "expected a list of actions with an action_id"
    for name in ("view", "channel", "team", "container", "message"):
        if name in payload and not isinstance(payload[name], dict):
            return f"payload.{name}", "expected an object"
    view = payload.get("view")
    if payload["type"].startswith("view_") and not isinstance(view, dict):
        return "payload.view", "expected an object"
    if isinstance(view, dict):
        for name in ("type", "callback_id"):
            if not isinstance(view.get(name), str):
                return f"payload.view.{name}", "expected a string"
    return None
