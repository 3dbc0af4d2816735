"""`POST /slack/events`: Slack's Events API, interactivity and slash commands, handed to bolt.

There is no Litestar adapter for bolt, and mounting bolt's ASGI app changes the path it
sees, so this route builds bolt's request from the raw body and headers (bolt checks the
signature over exactly these bytes) and returns bolt's response.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from litestar import Request, Response, post
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from feedback.errors import error_body

MAX_SLACK_BODY = 1024 * 1024


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
    problem = malformed(body, request.headers.get("content-type", ""))
    if problem is not None:
        # bolt assumes Slack's shapes; a signed-but-odd body must not reach it and crash
        return Response(
            error_body("not a Slack request", [{"field": problem[0], "message": problem[1]}]),
            status_code=400,
        )
    grouped: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        grouped.setdefault(name.lower(), []).append(value)
    headers: dict[str, str | Sequence[str]] = dict(grouped)
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=request.url.query or None,
        headers=headers,
    )
    answer = await bolt.async_dispatch(bolt_request)
    flat = {name: values[0] for name, values in answer.headers.items() if values}
    return Response(
        content=answer.body.encode() if isinstance(answer.body, str) else answer.body,
        status_code=answer.status,
        headers=flat,
        media_type=flat.get("content-type", "text/plain;charset=utf-8"),
    )


def malformed(body: bytes, content_type: str) -> tuple[str, str] | None:
    """(field, reason) when the body cannot be one of Slack's requests, else None."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            data = json.loads(text or "null")
        except ValueError:
            return "body", "not JSON"
        if not isinstance(data, dict):
            return "body", "expected a JSON object"
        if data.get("type") not in ("event_callback", "url_verification", "app_rate_limited"):
            return "type", "not an Events API request"
        event = data.get("event")
        if data["type"] == "event_callback" and (
            not isinstance(event, dict) or not isinstance(event.get("type"), str)
        ):
            return "event", "expected an object with a type"
        return None
    form = {k: v[0] for k, v in parse_qs(text).items()}
    if "payload" not in form:
        return None if "command" in form or not form else ("body", "unknown form")
    try:
        payload = json.loads(form["payload"])
    except ValueError:
        return "payload", "not JSON"
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
    if payload["type"].startswith("view_") and not isinstance(payload.get("view"), dict):
        return "payload.view", "expected an object"
    return None
