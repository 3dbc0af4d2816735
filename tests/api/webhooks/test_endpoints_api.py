"""Registering webhook endpoints through the API: the secret is shown once, the URL and the
events are checked, only admins may, every change is audited, and the delivery log reads
and replays."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from feedback.auth.models import AuditEntry
from feedback.kernel.principal import Role
from feedback.settings import get_settings
from feedback.surveys.identity_secrets import unseal
from feedback.webhooks import services
from feedback.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.api.webhooks.support import URL, admin, field_of, register
from tests.support.factories import bearer, book, token


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings as FEEDBACK_WEBHOOK_ALLOW_PRIVATE=true makes them."""
    settings = get_settings()
    allowing = dataclasses.replace(
        settings, webhooks=dataclasses.replace(settings.webhooks, allow_private=True)
    )
    monkeypatch.setattr(services, "get_settings", lambda: allowing)


async def test_registering_shows_the_secret_once_and_reading_never(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers, description="CRM sync", events=["cta.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert created["url"] == URL and created["events"] == ["cta.created"]
    assert created["environment"] == "production" and created["active"] is True
    sealed = await WebhookEndpoint.select(WebhookEndpoint.secret_sealed).first()
    assert secret not in sealed["secret_sealed"] and unseal(sealed["secret_sealed"]) == secret
    one = await client.get(f"/api/v1/webhooks/{created['id']}", headers=headers)
    listed = await client.get("/api/v1/webhooks", headers=headers)
    changed = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"description": "CRM"}, headers=headers
    )
    for answer in (one, listed, changed):
        assert answer.status_code == 200, answer.text
        assert "secret" not in answer.text and secret not in answer.text
    assert one.json()["description"] == "CRM sync" and changed.json()["description"] == "CRM"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "javascript:alert(1)",
        "hooks.example.com/x",
        "",
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "https://user:pass@hooks.example.com/x",
    ],
)
async def test_a_bad_or_private_url_is_refused_naming_url(client: Any, url: str) -> None:
    answer = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["cta.created"]},
        headers=await admin(client),
    )
    assert answer.status_code == 422 and field_of(answer) == "url"
    assert await WebhookEndpoint.count() == 0


async def test_a_private_address_is_taken_when_the_setting_allows_it(
    client: Any, allow_private: None
) -> None:
    created = await register(client, await admin(client), url="http://127.0.0.1:8080/hook")
    assert created["url"] == "http://127.0.0.1:8080/hook"


@pytest.mark.parametrize("events", [[], ["response.deleted"], ["cta.created", "nope"], None])
async def test_no_events_or_an_unknown_one_is_refused_naming_events(
    client: Any, events: list[str] | None
) -> None:
    body: dict[str, Any] = {"url": URL}
    if events is not None:
        body["events"] = events
    answer = await client.post("/api/v1/webhooks", json=body, headers=await admin(client))
    assert answer.status_code in (400, 422) and field_of(answer) == "events"
    assert await WebhookEndpoint.count() == 0


async def test_an_unknown_environment_is_refused_naming_it(client: Any) -> None:
    answer = await client.post(
        "/api/v1/webhooks",
        json={"url": URL, "events": ["cta.created"], "environment": "prod"},
        headers=await admin(client),
    )
    assert answer.status_code == 422 and field_of(answer) == "environment"


@pytest.mark.parametrize("role", [Role.manager, Role.csm, Role.analyst])
async def test_only_admins_may_read_or_register(client: Any, role: Role) -> None:
    await book()
    created = await register(client, await admin(client))
    headers = bearer(await token(role, "ann@example.com" if role is Role.csm else None))
    for answer in (
        await client.get("/api/v1/webhooks", headers=headers),
        await client.get(f"/api/v1/webhooks/{created['id']}", headers=headers),
        await client.post(
            "/api/v1/webhooks", json={"url": URL, "events": ["cta.created"]}, headers=headers
        ),
        await client.patch(
            f"/api/v1/webhooks/{created['id']}", json={"active": False}, headers=headers
        ),
        await client.delete(f"/api/v1/webhooks/{created['id']}", headers=headers),
        await client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=headers),
        await client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=headers),
    ):
        assert answer.status_code == 403, answer.text
    assert await WebhookEndpoint.count() == 1
    assert (await client.get("/api/v1/webhooks")).status_code == 401


async def test_switching_off_and_on_again_forgets_why_it_was_off(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    await WebhookEndpoint.update(
        {
            WebhookEndpoint.active: False,
            WebhookEndpoint.disabled_reason: "failing for 24 hours: HTTP 500",
        }
    ).where(WebhookEndpoint.id == created["id"])
    off = (await client.get(f"/api/v1/webhooks/{created['id']}", headers=headers)).json()
    assert off["active"] is False and off["disabled_reason"].startswith("failing")
    on = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"active": True}, headers=headers
    )
    assert on.json()["active"] is True and on.json()["disabled_reason"] is None
    off_again = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"active": False}, headers=headers
    )
    assert off_again.json()["disabled_reason"].startswith("switched off by ")
    assert off_again.json()["disabled_at"] is not None


async def test_a_change_is_checked_as_a_new_endpoint_is(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    path = f"/api/v1/webhooks/{created['id']}"
    bad_url = await client.patch(path, json={"url": "http://192.168.1.5/x"}, headers=headers)
    no_events = await client.patch(path, json={"events": []}, headers=headers)
    unknown = await client.patch(path, json={"colour": "red"}, headers=headers)
    assert field_of(bad_url) == "url" and field_of(no_events) == "events"
    assert unknown.status_code in (400, 422)
    changed = await client.patch(
        path,
        json={
            "url": "https://other.example.com/in",
            "events": ["cta.changed", "cta.created"],
            "environment": "staging",
        },
        headers=headers,
    )
    body = changed.json()
    assert body["url"] == "https://other.example.com/in" and body["environment"] == "staging"
    assert body["events"] == ["cta.created", "cta.changed"]


async def test_rotating_gives_a_new_secret_once(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    rotated = await client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    sealed = await WebhookEndpoint.select(WebhookEndpoint.secret_sealed).first()
    assert unseal(sealed["secret_sealed"]) == new


async def test_every_change_is_audited_and_delete_removes_it(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    path = f"/api/v1/webhooks/{created['id']}"
    await client.patch(path, json={"description": "x"}, headers=headers)
    await client.patch(path, json={"active": False}, headers=headers)
    await client.patch(path, json={"active": True}, headers=headers)
    await client.post(f"{path}/rotate-secret", headers=headers)
    deleted = await client.delete(path, headers=headers)
    assert deleted.status_code == 200
    assert (await client.get(path, headers=headers)).status_code == 404
    actions = [
        row["action"]
        for row in await AuditEntry.select(AuditEntry.action)
        .where(AuditEntry.action.like("webhook.%"))
        .order_by(AuditEntry.id)
    ]
    assert actions == [
        "webhook.create",
        "webhook.update",
        "webhook.disable",
        "webhook.enable",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    assert created["secret"] not in str(await AuditEntry.select(AuditEntry.detail))


async def deliveries_of(endpoint: int, statuses: list[str]) -> list[int]:
    """Deliveries of one event each, oldest first, in the statuses given."""
    ids = []
    for n, status in enumerate(statuses):
        event = await WebhookEvent.insert(
            WebhookEvent(type="cta.created", object_id=str(n + 1), environment="production")
        )
        rows = await WebhookDelivery.insert(
            WebhookDelivery(
                slot=f"{endpoint}:{event[0]['id']}",
                endpoint=endpoint,
                event=event[0]["id"],
                status=status,
                attempts=1 if status != "pending" else 0,
                last_status=410 if status == "dead" else None,
                last_error="HTTP 410: gone" if status == "dead" else "",
            )
        )
        ids.append(int(rows[0]["id"]))
    return ids


async def test_the_delivery_log_is_newest_first_filtered_and_paged(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    ids = await deliveries_of(created["id"], ["delivered", "dead", "pending", "dead"])
    path = f"/api/v1/webhooks/{created['id']}/deliveries"
    log = (await client.get(path, headers=headers)).json()
    assert [d["id"] for d in log] == ids[::-1]
    assert set(log[0]) >= {
        "event_id",
        "type",
        "status",
        "attempts",
        "last_status",
        "last_error",
        "created",
        "delivered",
    }
    assert log[0]["event_id"].startswith("evt_") and log[0]["last_status"] == 410
    dead = (await client.get(path, params={"status": "dead"}, headers=headers)).json()
    assert [d["id"] for d in dead] == [ids[3], ids[1]]
    page = (await client.get(path, params={"limit": 2, "before": ids[2]}, headers=headers)).json()
    assert [d["id"] for d in page] == [ids[1], ids[0]]
    bad = await client.get(path, params={"status": "lost"}, headers=headers)
    assert field_of(bad) == "status"


async def test_a_dead_delivery_is_queued_again_and_a_pending_one_is_refused(client: Any) -> None:
    headers = await admin(client)
    created = await register(client, headers)
    delivered, dead, pending = await deliveries_of(created["id"], ["delivered", "dead", "pending"])
    path = f"/api/v1/webhooks/{created['id']}/deliveries"
    again = await client.post(f"{path}/{dead}/replay", headers=headers)
    assert again.status_code == 202, again.text
    row = await WebhookDelivery.select().where(WebhookDelivery.id == dead).first()
    assert row["status"] == "pending"
    assert (await client.post(f"{path}/{delivered}/replay", headers=headers)).status_code == 202
    waiting = await client.post(f"{path}/{pending}/replay", headers=headers)
    assert waiting.status_code == 409
    other = await register(client, headers)
    elsewhere = await client.post(
        f"/api/v1/webhooks/{other['id']}/deliveries/{dead}/replay", headers=headers
    )
    assert elsewhere.status_code == 404


async def test_every_dead_delivery_of_one_endpoint_is_queued_again_at_once(client: Any) -> None:
    """After a receiver's outage: one call sends every dead delivery of the endpoint again,
    leaving the delivered ones, and other endpoints' dead ones, as they are."""
    headers = await admin(client)
    created = await register(client, headers)
    other = await register(client, headers)
    delivered, dead, dead_too = await deliveries_of(created["id"], ["delivered", "dead", "dead"])
    (elsewhere,) = await deliveries_of(other["id"], ["dead"])
    path = f"/api/v1/webhooks/{created['id']}/deliveries/replay-dead"
    again = await client.post(path, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json() == {"queued": 2}
    statuses = {
        row["id"]: row["status"]
        for row in await WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.status)
    }
    assert statuses == {
        delivered: "delivered",
        dead: "pending",
        dead_too: "pending",
        elsewhere: "dead",
    }
    assert (await client.post(path, headers=headers)).json() == {"queued": 0}
    entries = await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.action == "webhook.replay_dead"
    )
    assert len(entries) == 1
