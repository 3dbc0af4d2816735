"""The webhooks admin page: registering shows the secret once after the redirect, errors
show next to their field, "Send again" queues a delivery, and only admins get in."""

from __future__ import annotations

import re
from typing import Any

from feedback.kernel.principal import Role
from feedback.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.api.webhooks.support import URL
from tests.api.webhooks.test_endpoints_api import deliveries_of
from tests.support.web import as_role, csrf_token, signed_in_admin


async def form_post(
    client: Any, path: str, data: dict[str, Any], page: str = "/admin/webhooks"
) -> Any:
    return await client.post(path, data={**data, "_csrf_token": await csrf_token(client, page)})


async def registered(client: Any) -> tuple[int, Any]:
    answer = await form_post(
        client,
        "/admin/webhooks",
        {"url": URL, "description": "CRM sync", "events": ["cta.created", "cta.changed"]},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    match = re.match(r"^/admin/webhooks/(\d+)\?done=created$", location)
    assert match, location
    return int(match.group(1)), await client.get(location)


async def test_registering_redirects_to_the_endpoint_which_shows_the_secret_once(
    client: Any,
) -> None:
    await signed_in_admin(client)
    endpoint, page = await registered(client)
    assert page.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", page.text)
    assert secret and "Shown only now" in page.text
    again = await client.get(f"/admin/webhooks/{endpoint}?done=created")
    assert again.status_code == 200 and "whsec_" not in again.text
    assert await WebhookEndpoint.count() == 1  # a reload registers nothing
    row = await WebhookEndpoint.select().first()
    assert row["events"] in (["cta.created", "cta.changed"], '["cta.created", "cta.changed"]')
    listed = await client.get("/admin/webhooks")
    assert "CRM sync" in listed.text and "whsec_" not in listed.text


async def test_a_bad_url_or_no_event_is_shown_next_to_its_field(client: Any) -> None:
    await signed_in_admin(client)
    bad = await form_post(
        client, "/admin/webhooks", {"url": "http://10.0.0.5/x", "events": ["cta.created"]}
    )
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    assert 'value="http://10.0.0.5/x"' in bad.text  # what was typed stays
    none = await form_post(client, "/admin/webhooks", {"url": URL})
    assert none.status_code == 422 and 'id="events-error"' in none.text
    assert await WebhookEndpoint.count() == 0


async def test_send_again_queues_a_dead_delivery(client: Any) -> None:
    await signed_in_admin(client)
    endpoint, _ = await registered(client)
    [dead] = await deliveries_of(endpoint, ["dead"])
    page = await client.get(f"/admin/webhooks/{endpoint}")
    assert "Send again" in page.text and "HTTP 410" in page.text
    answer = await form_post(
        client,
        f"/admin/webhooks/{endpoint}/deliveries/{dead}/replay",
        {},
        f"/admin/webhooks/{endpoint}",
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/webhooks/{endpoint}?done=replayed"
    row = await WebhookDelivery.select(WebhookDelivery.status).where(WebhookDelivery.id == dead)
    assert row[0]["status"] == "pending"


async def test_the_dead_ones_are_sent_again_from_the_page(client: Any) -> None:
    await signed_in_admin(client)
    endpoint, _ = await registered(client)
    await deliveries_of(endpoint, ["dead", "dead", "delivered"])
    page = await client.get(f"/admin/webhooks/{endpoint}")
    assert "2 deliveries are dead." in page.text
    answer = await form_post(
        client,
        f"/admin/webhooks/{endpoint}/deliveries/replay-dead",
        {},
        f"/admin/webhooks/{endpoint}",
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/webhooks/{endpoint}?done=replayed_dead"
    statuses = [r["status"] for r in await WebhookDelivery.select(WebhookDelivery.status)]
    assert sorted(statuses) == ["delivered", "pending", "pending"]
    after = await client.get(f"/admin/webhooks/{endpoint}?done=replayed_dead")
    assert "Every dead delivery is queued" in after.text and "are dead." not in after.text


async def test_settings_switch_rotate_and_delete(client: Any) -> None:
    await signed_in_admin(client)
    endpoint, _ = await registered(client)
    path = f"/admin/webhooks/{endpoint}"
    saved = await form_post(
        client,
        path,
        {
            "url": URL + "/v2",
            "description": "CRM",
            "events": ["cta.changed"],
            "environment": "staging",
        },
        path,
    )
    assert saved.status_code == 303
    row = await WebhookEndpoint.select().first()
    assert row["url"] == URL + "/v2" and row["environment"] == "staging"
    off = await form_post(client, f"{path}/disable", {}, path)
    assert off.status_code == 303
    page = await client.get(path)
    assert "switched off by admin@example.com" in page.text and "Switch on" in page.text
    confirm = await client.get(f"{path}/rotate-secret")
    assert confirm.status_code == 200 and "Rotate the secret" in confirm.text
    rotated = await form_post(client, f"{path}/rotate-secret", {}, f"{path}/rotate-secret")
    assert rotated.status_code == 303
    assert "whsec_" in (await client.get(rotated.headers["location"])).text
    assert "whsec_" not in (await client.get(path)).text
    assert (await client.get(f"{path}/delete")).status_code == 200
    deleted = await form_post(client, f"{path}/delete", {}, f"{path}/delete")
    assert deleted.headers["location"] == "/admin/webhooks?done=deleted"
    assert await WebhookEndpoint.count() == 0
    assert (await client.get(path)).status_code == 404


async def test_other_roles_get_the_403_page(client: Any) -> None:
    await as_role(client, Role.manager)
    answer = await client.get("/admin/webhooks")
    assert answer.status_code == 403 and "<html" in answer.text.lower()
