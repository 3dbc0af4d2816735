"""A widget key's own page: created with Post/Redirect/Get (the secret shown once), its
snippet with only the identity fields the key requires, its schedules, and disabling that
asks for confirmation and can be undone (on the page and through the API)."""

from __future__ import annotations

import html
import re
from typing import Any

from feedback.kernel.principal import Role
from feedback.surveys.models import Schedule, Survey, WidgetKey
from tests.support.factories import bearer, token
from tests.support.web import csrf_token, signed_in_admin


async def post_form(client: Any, path: str, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/widget-keys")
    return await client.post(path, data={**data, "_csrf_token": token})


async def create(client: Any, **fields: str) -> Any:
    return await post_form(
        client,
        "/admin/widget-keys",
        {"name": "Web app", "allowed_origins": "https://app.example.com", **fields},
    )


def secret_on(page: str) -> str | None:
    found = re.search(r'<pre class="secret">([0-9a-f]{64})</pre>', page)
    return found.group(1) if found else None


def snippet_on(page: str) -> str:
    found = re.search(r'<pre class="snippet"[^>]*>(.*?)</pre>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


async def test_a_new_key_redirects_to_its_page_which_shows_the_secret_once(
    client: Any,
) -> None:
    await signed_in_admin(client)
    made = await create(client, environment="production")
    assert made.status_code == 303
    row = await WidgetKey.select().first()
    assert made.headers["location"] == f"/admin/widget-keys/{row['id']}"
    assert "secret" not in made.headers["location"]
    page = await client.get(made.headers["location"])
    assert page.status_code == 200
    secret = secret_on(page.text)
    assert secret is not None and secret not in str(row)
    assert row["key"] in page.text and "https://app.example.com" in page.text
    reload = await client.get(made.headers["location"])
    assert reload.status_code == 200 and secret_on(reload.text) is None
    assert await WidgetKey.count() == 1
    listing = await client.get("/admin/widget-keys")
    assert f'href="/admin/widget-keys/{row["id"]}"' in listing.text
    assert secret not in listing.text


async def test_a_refused_key_is_shown_again_on_the_list_with_the_error(client: Any) -> None:
    await signed_in_admin(client)
    answer = await create(client, allowed_origins="app.example.com")
    assert answer.status_code == 422 and "allowed_origins" in answer.text
    assert await WidgetKey.count() == 0


async def test_the_snippet_has_identity_fields_only_when_the_key_requires_them(
    client: Any,
) -> None:
    await signed_in_admin(client)
    for identity, field, not_field in [
        ("signed", "identity_token:", "user_hash:"),
        ("user_hash", "user_hash:", "identity_token:"),
    ]:
        made = await create(client, identity=identity)
        snippet = snippet_on((await client.get(made.headers["location"])).text)
        assert field in snippet and not_field not in snippet
    made = await create(client, environment="development", identity="browser")
    snippet = snippet_on((await client.get(made.headers["location"])).text)
    assert "identity_token" not in snippet and "user_hash" not in snippet
    assert "NPS('identify', { id: USER_ID" in snippet and "{ id: ACCOUNT_ID" in snippet


async def test_the_page_lists_the_schedules_that_ask_through_the_key(client: Any) -> None:
    await signed_in_admin(client)
    made = await create(client, environment="staging", name="Marketing site")
    key_id = (await WidgetKey.select(WidgetKey.id).first())["id"]
    other = WidgetKey(key="wk_other", name="Other", environment="production")
    await other.save()
    survey = Survey(name="NPS")
    await survey.save()
    for name, scope in [
        ("for this key", {"widget_keys": [key_id]}),
        ("for staging", {"environments": ["staging"]}),
        ("for any key", {}),
        ("for the other key", {"widget_keys": [other.id]}),
        ("for production", {"environments": ["production"]}),
    ]:
        await Schedule(survey=survey.id, name=name, **scope).save()
    page = (await client.get(made.headers["location"])).text
    assert "for this key" in page and "for staging" in page and "for any key" in page
    assert "for the other key" not in page and "for production" not in page
    assert "Key: Marketing site (staging)" in page and "Staging keys only" in page


async def test_disabling_asks_for_confirmation_and_can_be_undone(client: Any) -> None:
    await signed_in_admin(client)
    made = await create(client, environment="development", identity="browser")
    page_path = made.headers["location"]
    row = await WidgetKey.select().first()
    check = f"/widget/v1/{row['key']}/eligibility"
    body = '{"user_id": "u", "account_id": "a"}'
    origin = {"origin": "https://app.example.com"}
    assert (await client.post(check, content=body, headers=origin)).status_code == 200

    page = await client.get(page_path)
    assert f'href="{page_path}/disable"' in page.text
    # a post that did not come from the confirmation step only leads there
    unconfirmed = await post_form(client, f"{page_path}/disable", {})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == f"{page_path}/disable"
    assert (await WidgetKey.select(WidgetKey.active).first())["active"] is True
    confirm = await client.get(f"{page_path}/disable")
    assert confirm.status_code == 200 and "Disable the key" in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text

    disabled = await post_form(client, f"{page_path}/disable", {"confirm": "yes"})
    assert disabled.status_code == 303
    assert (await WidgetKey.select(WidgetKey.active).first())["active"] is False
    assert (await client.post(check, content=body, headers=origin)).status_code == 401
    page = await client.get(disabled.headers["location"])
    assert "Key disabled" in page.text and "Enable again" in page.text

    enabled = await post_form(client, f"{page_path}/enable", {})
    assert enabled.status_code == 303
    assert (await WidgetKey.select(WidgetKey.active).first())["active"] is True
    assert (await client.post(check, content=body, headers=origin)).status_code == 200
    page = await client.get(enabled.headers["location"])
    assert "Key enabled again" in page.text and f'href="{page_path}/disable"' in page.text


async def test_the_api_enables_a_disabled_key_again(client: Any) -> None:
    admin = bearer(await token(Role.admin))
    made = (
        await client.post(
            "/api/v1/widget-keys",
            headers=admin,
            json={"name": "Web", "environment": "development", "allowed_origins": ["*"]},
        )
    ).json()
    check = f"/widget/v1/{made['key']}/eligibility"
    body = '{"user_id": "u", "account_id": "a"}'
    assert (
        await client.delete(f"/api/v1/widget-keys/{made['id']}", headers=admin)
    ).status_code == 204
    assert (await client.post(check, content=body)).status_code == 401
    enabled = await client.post(f"/api/v1/widget-keys/{made['id']}/enable", headers=admin)
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert "identity_secret" not in enabled.json()
    assert (await client.post(check, content=body)).status_code == 200
    missing = await client.post("/api/v1/widget-keys/999999/enable", headers=admin)
    assert missing.status_code == 404


async def test_an_unknown_key_page_is_not_found(client: Any) -> None:
    await signed_in_admin(client)
    assert (await client.get("/admin/widget-keys/999999")).status_code == 404
    assert (await client.get("/admin/widget-keys/999999/disable")).status_code == 404
