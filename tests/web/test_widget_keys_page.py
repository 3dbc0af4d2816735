"""The widget keys page: identity modes with a warning for a production key that trusts the
browser, rotating and retiring identity secrets, and previews on the admin's own site."""

from __future__ import annotations

import html
import re
from typing import Any

from feedback.surveys import previews
from feedback.surveys.models import WidgetKey
from tests.support.web import csrf_token, signed_in_admin


async def post_form(client: Any, path: str, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/widget-keys")
    return await client.post(path, data={**data, "_csrf_token": token})


def secret_on(page: str) -> str:
    found = re.search(r'<pre class="secret"[^>]*>([0-9a-f]{64})</pre>', page)
    assert found, page
    return found.group(1)


async def test_a_production_key_requires_signed_identity_unless_the_admin_says_otherwise(
    client: Any,
) -> None:
    await signed_in_admin(client)
    made = await post_form(
        client,
        "/admin/widget-keys",
        {"name": "Web", "environment": "production", "allowed_origins": "https://app.example.com"},
    )
    assert made.status_code == 303, made.text
    made = await client.get(made.headers["location"])
    secret = secret_on(made.text)
    row = await WidgetKey.select().first()
    assert row["identity"] == "signed" and secret not in str(row)
    assert "Warning" not in made.text
    turned_off = await post_form(
        client, f"/admin/widget-keys/{row['id']}/identity", {"identity": "browser"}
    )
    assert turned_off.status_code == 200
    assert "Warning: this production key trusts the browser" in html.unescape(turned_off.text)
    assert (await WidgetKey.select(WidgetKey.identity).first())["identity"] == "browser"
    refused = await post_form(
        client, f"/admin/widget-keys/{row['id']}/identity", {"identity": "anyone"}
    )
    assert refused.status_code == 422 and "identity" in refused.text


async def test_a_secret_is_rotated_then_the_previous_one_retired(client: Any) -> None:
    await signed_in_admin(client)
    made = await post_form(
        client, "/admin/widget-keys", {"name": "Web", "allowed_origins": "https://app.example.com"}
    )
    first = secret_on((await client.get(made.headers["location"])).text)
    key_id = (await WidgetKey.select(WidgetKey.id).first())["id"]
    rotated = await post_form(client, f"/admin/widget-keys/{key_id}/rotate-secret", {})
    second = secret_on(rotated.text)
    assert second != first and "Retire previous secret" in rotated.text
    listing = await client.get("/admin/widget-keys")
    assert first not in listing.text and second not in listing.text
    retired = await post_form(client, f"/admin/widget-keys/{key_id}/retire-previous-secret", {})
    assert retired.status_code == 200 and "Retire previous secret" not in retired.text
    row = await WidgetKey.select().first()
    assert row["previous_secret_sealed"] is None


async def test_preview_on_my_site_gives_a_parameter_for_the_host_page(client: Any) -> None:
    await signed_in_admin(client)
    await post_form(
        client, "/admin/widget-keys", {"name": "Web", "allowed_origins": "https://app.example.com"}
    )
    row = await WidgetKey.select(WidgetKey.id, WidgetKey.key).first()
    page = await post_form(client, f"/admin/widget-keys/{row['id']}/preview", {})
    assert page.status_code == 200
    found = re.search(r"https://app\.example\.com/\?nps_preview=([A-Za-z0-9_.-]+)", page.text)
    assert found, page.text
    assert previews.is_preview_of(found.group(1), row["key"])
    assert not previews.is_preview_of(found.group(1), "wk_other")
