"""Managing webhook endpoints: register one (its signing secret shown once), change it,
switch it off and on, rotate its secret, delete it; read its delivery log and send a
delivery again. The API and the admin page both call these; every change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from feedback.auth.services import audit
from feedback.db import as_utc_datetime, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import parse_environment
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.settings import get_settings
from feedback.surveys.identity_secrets import seal
from feedback.webhooks.addresses import check_url
from feedback.webhooks.delivery import replay_delivery, retry_endpoint
from feedback.webhooks.models import (
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from feedback.webhooks.signing import new_secret

EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
MAX_DESCRIPTION = 200


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new endpoint: where to send, which events, which environment's events."""

    url: str
    events: list[str]
    description: str = ""
    environment: str | None = None


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True):
    """A change to an endpoint: only the fields given change. `active` true switches it on
    again (and forgets why it was off)."""

    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    environment: str | None = None
    active: bool | None = None


def checked_events(events: Sequence[str] | None) -> list[str]:
    """The event types named, each once, in the order of `EventType`; refused naming
    `events` when there is none or one is unknown."""
    if not events:
        raise InputError("events", f"choose at least one of {', '.join(EVENT_TYPES)}")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InputError(
            "events", f"unknown event {unknown[0]!r}; events: {', '.join(EVENT_TYPES)}"
        )
    return [e for e in EVENT_TYPES if e in events]


def checked_url(url: str | None) -> str:
    if not url or not url.strip():
        raise InputError(
            "url", "enter the address to send events to, like https://example.com/hooks"
        )
    return check_url(url.strip(), get_settings().webhooks.allow_private)


def checked_description(description: str | None) -> str:
    text = " ".join((description or "").split())
    if len(text) > MAX_DESCRIPTION:
        raise InputError("description", f"at most {MAX_DESCRIPTION} characters")
    return text


_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.url,
    WebhookEndpoint.description,
    WebhookEndpoint.events,
    WebhookEndpoint.environment,
    WebhookEndpoint.active,
    WebhookEndpoint.disabled_reason,
    WebhookEndpoint.disabled_at,
    WebhookEndpoint.created_by,
    WebhookEndpoint.created_at,
    WebhookEndpoint.updated_at,
)


def _endpoint_json(row: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as the API and the page show it: never its secret."""
    return {
        "id": row["id"],
        "url": row["url"],
        "description": row["description"],
        "events": list(row["events"] or []),
        "environment": row["environment"],
        "active": bool(row["active"]),
        "disabled_reason": row["disabled_reason"] or None,
        "disabled_at": as_utc_datetime(row["disabled_at"]),
        "created_by": row["created_by"],
        "created_at": as_utc_datetime(row["created_at"]),
        "updated_at": as_utc_datetime(row["updated_at"]),
    }


async def get_endpoint(endpoint_id: int) -> dict[str, Any]:
    """One endpoint, with `failing_since` and `last_delivery` (see `list_endpoints`)."""
    row = (
        await WebhookEndpoint.select(*_COLUMNS)
        .where(WebhookEndpoint.id == endpoint_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return (await _with_state([_endpoint_json(row)]))[0]


async def list_endpoints() -> list[dict[str, Any]]:
    """Every endpoint, the oldest first, each with `failing_since` (when its oldest delivery
    still being retried began failing, or None) and `last_delivery` (the newest delivery's
    status and times, or None)."""
    rows = (
        await WebhookEndpoint.select(*_COLUMNS).order_by(WebhookEndpoint.id).output(load_json=True)
    )
    return await _with_state([_endpoint_json(row) for row in rows])


async def _with_state(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not endpoints:
        return endpoints
    failing = await WebhookDelivery.select(
        WebhookDelivery.endpoint, WebhookDelivery.failing_since
    ).where(
        WebhookDelivery.endpoint.is_in([e["id"] for e in endpoints]),
        WebhookDelivery.failing_since.is_not_null(),
        WebhookDelivery.status.is_in([DeliveryStatus.pending, DeliveryStatus.sending]),
    )
    since: dict[int, datetime] = {}
    for row in failing:
        moment = as_utc_datetime(row["failing_since"])
        if moment is not None and (row["endpoint"] not in since or moment < since[row["endpoint"]]):
            since[row["endpoint"]] = moment
    for endpoint in endpoints:
        endpoint["failing_since"] = since.get(endpoint["id"])
        newest = (
            await WebhookDelivery.select(
                WebhookDelivery.status, WebhookDelivery.created_at, WebhookDelivery.delivered_at
            )
            .where(WebhookDelivery.endpoint == endpoint["id"])
            .order_by(WebhookDelivery.id, ascending=False)
            .first()
        )
        endpoint["last_delivery"] = (
            None
            if newest is None
            else {
                "status": newest["status"],
                "created": as_utc_datetime(newest["created_at"]),
                "delivered": as_utc_datetime(newest["delivered_at"]),
            }
        )
    return endpoints


async def create_endpoint(
    data: EndpointIn, actor: str, source: str, now: datetime | None = None
) -> dict[str, Any]:
    """A new endpoint, switched on; the answer is the only place its secret is shown."""
    now = now or utcnow()
    url = checked_url(data.url)
    events = checked_events(data.events)
    environment = parse_environment(data.environment)
    description = checked_description(data.description)
    secret = new_secret()
    async with write_transaction():
        row = WebhookEndpoint(
            url=url,
            description=description,
            events=events,
            environment=environment,
            secret_sealed=seal(secret),
            active=True,
            created_by=actor[:320],
            created_at=now,
            updated_at=now,
        )
        await row.save()
        await audit(
            actor,
            source,
            "webhook.create",
            str(row.id),
            detail={"url": url, "events": events, "environment": environment},
        )
    return {**(await get_endpoint(int(row.id))), "secret": secret}


async def change_endpoint(
    endpoint_id: int, change: EndpointChange, actor: str, source: str, now: datetime | None = None
) -> dict[str, Any]:
    """Change the fields given; `active` switches it off (reason: by whom) or on (the reason
    it was off is forgotten)."""
    now = now or utcnow()
    current = await get_endpoint(endpoint_id)
    values: dict[Any, Any] = {}
    if change.url is not None:
        values[WebhookEndpoint.url] = checked_url(change.url)
    if change.events is not None:
        values[WebhookEndpoint.events] = checked_events(change.events)
    if change.description is not None:
        values[WebhookEndpoint.description] = checked_description(change.description)
    if change.environment is not None:
        values[WebhookEndpoint.environment] = parse_environment(change.environment)
    if change.active is not None and change.active != current["active"]:
        values[WebhookEndpoint.active] = change.active
        values[WebhookEndpoint.disabled_reason] = (
            "" if change.active else f"switched off by {actor}"
        )
        values[WebhookEndpoint.disabled_at] = None if change.active else now
    detail = {
        column._meta.name: value
        for column, value in values.items()
        if column._meta.name in ("url", "events", "description", "environment", "active")
        and value != current[column._meta.name]
    }
    if not detail:
        return current
    values[WebhookEndpoint.updated_at] = now
    if "active" in detail:
        action = "webhook.enable" if change.active else "webhook.disable"
    else:
        action = "webhook.update"
    async with write_transaction():
        await WebhookEndpoint.update(values).where(WebhookEndpoint.id == endpoint_id)
        await audit(actor, source, action, str(endpoint_id), detail=detail)
    return await get_endpoint(endpoint_id)


async def set_active(
    endpoint_id: int, active: bool, actor: str, source: str, now: datetime | None = None
) -> dict[str, Any]:
    return await change_endpoint(endpoint_id, EndpointChange(active=active), actor, source, now)


async def delete_endpoint(endpoint_id: int, actor: str, source: str) -> None:
    """The endpoint and its delivery log go; events already recorded stay for the others."""
    current = await get_endpoint(endpoint_id)
    async with write_transaction():
        await WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint_id)
        await audit(
            actor, source, "webhook.delete", str(endpoint_id), detail={"url": current["url"]}
        )


async def rotate_secret(
    endpoint_id: int, actor: str, source: str, now: datetime | None = None
) -> dict[str, Any]:
    """A new signing secret, used from the next attempt on; the answer is the only place it
    is shown. The old one stops signing at once: receivers must switch over."""
    now = now or utcnow()
    await get_endpoint(endpoint_id)
    secret = new_secret()
    async with write_transaction():
        await WebhookEndpoint.update(
            {WebhookEndpoint.secret_sealed: seal(secret), WebhookEndpoint.updated_at: now}
        ).where(WebhookEndpoint.id == endpoint_id)
        await audit(actor, source, "webhook.rotate_secret", str(endpoint_id))
    return {**(await get_endpoint(endpoint_id)), "secret": secret}


DELIVERY_STATUSES: tuple[str, ...] = tuple(s.value for s in DeliveryStatus)


async def list_deliveries(
    endpoint_id: int,
    status: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """An endpoint's delivery log, the newest first; `before` a delivery id (the page after
    the one that ended with it), `status` one of `DELIVERY_STATUSES`."""
    await get_endpoint(endpoint_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise InputError("status", f"one of {', '.join(DELIVERY_STATUSES)}")
    query = (
        WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.event,
            WebhookDelivery.event.type.as_alias("type"),
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.last_status,
            WebhookDelivery.last_error,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.created_at,
            WebhookDelivery.delivered_at,
        )
        .where(WebhookDelivery.endpoint == endpoint_id)
        .order_by(WebhookDelivery.id, ascending=False)
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return [
        {
            "id": row["id"],
            "event_id": f"evt_{row['event']}",
            "type": row["type"],
            "status": row["status"],
            "attempts": row["attempts"],
            "last_status": row["last_status"],
            "last_error": row["last_error"] or None,
            "next_attempt_at": (
                as_utc_datetime(row["next_attempt_at"])
                if row["status"] == DeliveryStatus.pending
                else None
            ),
            "created": as_utc_datetime(row["created_at"]),
            "delivered": as_utc_datetime(row["delivered_at"]),
        }
        for row in await query
    ]


async def replay(
    endpoint_id: int, delivery_id: int, actor: str, source: str, now: datetime | None = None
) -> None:
    """Send a dead or delivered delivery of this endpoint again (the same body, the same
    event id); refused (409) while it is waiting or being sent."""
    now = now or utcnow()
    await get_endpoint(endpoint_id)
    row = (
        await WebhookDelivery.select(WebhookDelivery.status)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint == endpoint_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no delivery {delivery_id} of webhook endpoint {endpoint_id}")
    if not await replay_delivery(delivery_id, now):
        raise Conflict.for_field("delivery", "only a dead or delivered delivery can be sent again")
    await audit(actor, source, "webhook.replay", str(endpoint_id), detail={"delivery": delivery_id})


async def dead_deliveries(endpoint_id: int) -> int:
    """How many of the endpoint's deliveries are dead (for "send them all again")."""
    return int(
        await WebhookDelivery.count().where(
            WebhookDelivery.endpoint == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.dead.value,
        )
    )


async def replay_dead(
    endpoint_id: int, actor: str, source: str, now: datetime | None = None
) -> int:
    """Send every dead delivery of this endpoint again (after the receiver's outage is
    over, say), each with its own body and event id: how many."""
    await get_endpoint(endpoint_id)
    queued = await retry_endpoint(endpoint_id, now or utcnow())
    if queued:
        await audit(
            actor, source, "webhook.replay_dead", str(endpoint_id), detail={"queued": queued}
        )
    return queued
