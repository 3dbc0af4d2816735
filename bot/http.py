"""`POST /slack/events`: Slack's Events API, interactivity and slash commands, handed to bolt.

There is no Litestar adapter for bolt, and mounting bolt's ASGI app changes the path it
sees, so this route builds bolt's request from the raw body and headers (bolt checks the
signature over exactly these bytes) and returns bolt's response.
"""

from __future__ import annotations

from typing import Any

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
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
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
