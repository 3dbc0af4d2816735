"""Shared by the webhook endpoint tests: an admin's token, registering an endpoint through
the API, and the events the changes recorded."""

from __future__ import annotations

from typing import Any

from feedback.kernel.principal import Role
from feedback.webhooks.models import WebhookEndpoint, WebhookEvent
from tests.support.factories import bearer, token

URL = "https://hooks.example.com/feedback"
ALL_EVENTS = [
    "response.created",
    "response.commented",
    "cta.created",
    "cta.changed",
    "health.band_changed",
    "program.completed",
    "person.unsubscribed",
]


async def admin(client: Any) -> dict[str, str]:
    """The headers of an admin's API token."""
    return bearer(await token(Role.admin))


async def register(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"url": URL, "events": ALL_EVENTS, **fields}
    answer = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def an_endpoint(environment: str = "production", active: bool = True) -> int:
    """An endpoint written directly (for tests about what changes record)."""
    rows = await WebhookEndpoint.insert(
        WebhookEndpoint(
            url=URL,
            events=ALL_EVENTS,
            environment=environment,
            secret_sealed="",
            active=active,
        )
    )
    return int(rows[0]["id"])


async def recorded(kind: str | None = None) -> list[dict[str, Any]]:
    """The events recorded, in order: type, object_id, environment."""
    query = WebhookEvent.select(
        WebhookEvent.type, WebhookEvent.object_id, WebhookEvent.environment
    ).order_by(WebhookEvent.id)
    if kind is not None:
        query = query.where(WebhookEvent.type == kind)
    return list(await query)


def field_of(answer: Any) -> str:
    """The one field a refusal names."""
    assert 400 <= answer.status_code < 500, answer.text
    (named,) = answer.json()["detail"]
    return str(named["field"])
