"""Admins configure surveys, schedules and widget keys in the pages."""

from __future__ import annotations

import html
import re
from typing import Any

from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from feedback.surveys.models import Schedule, Survey, WidgetKey
from tests.support.web import PASSWORD, csrf_token, sign_in, signed_in_admin


async def post_form(client: Any, path: str, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/surveys")
    return await client.post(path, data={**data, "_csrf_token": token})


async def test_an_admin_creates_a_survey_with_japanese_texts(client: Any) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/surveys/new")
    assert page.status_code == 200 and 'id="preview"' in page.text
    saved = await post_form(
        client,
        "/admin/surveys/new",
        {
            "name": "Quarterly NPS",
            "product_name": "Acme HR",
            "active": "on",
            "ja.question": "{product}をお薦めしますか？",
            "en.thanks.promoter": "Thanks!",
            "accent": "#aa3300",
            "position": "bottom-left",
        },
    )
    assert saved.status_code == 303
    survey = await Survey.select().output(load_json=True).first()
    assert survey["texts"] == {
        "ja": {"question": "{product}をお薦めしますか？"},
        "en": {"thanks": {"promoter": "Thanks!"}},
    }
    assert survey["theme"] == {"accent": "#aa3300", "position": "bottom-left"}
    edit = await client.get(saved.headers["location"])
    assert "{product}をお薦めしますか？" in edit.text


async def test_a_schedule_with_bad_targeting_is_shown_again_with_the_error(client: Any) -> None:
    await signed_in_admin(client)
    survey = Survey(name="NPS")
    await survey.save()
    bad = await post_form(
        client,
        "/admin/schedules/new",
        {
            "survey_id": str(survey.id),
            "cadence_days": "90",
            "targeting": '{"include": [1]}',
            "active": "on",
        },
    )
    assert bad.status_code == 422
    assert "targeting" in bad.text and "{&#34;include&#34;: [1]}" in bad.text
    assert await Schedule.count() == 0
    good = await post_form(
        client,
        "/admin/schedules/new",
        {
            "survey_id": str(survey.id),
            "cadence_days": "30",
            "sample_percent": "12.5",
            "targeting": '{"include": {"plan": ["paid"]}}',
            "starts_at": "2027-01-01T09:00",
            "active": "on",
        },
    )
    assert good.status_code == 303
    row = await Schedule.select().output(load_json=True).first()
    assert (row["cadence_days"], row["sample_percent"]) == (30, 12.5)
    assert row["targeting"] == {"include": {"plan": ["paid"]}}
    assert row["starts_at"].isoformat() == "2027-01-01T09:00:00+00:00"


async def test_a_new_key_shows_its_secret_and_snippet_once(client: Any) -> None:
    await signed_in_admin(client)
    made = await post_form(
        client,
        "/admin/widget-keys",
        {
            "name": "Web app",
            "environment": "production",
            "allowed_origins": "https://app.example.com\nhttps://eu.example.com",
            "require_identity": "on",
        },
    )
    assert made.status_code == 303
    key = await WidgetKey.select().first()
    assert made.headers["location"] == f"/admin/widget-keys/{key['id']}"
    first_view = (await client.get(made.headers["location"])).text
    # the secret is shown once, and stored only sealed (never in clear)
    shown = re.search(r'<pre class="secret"[^>]*>([0-9a-f]{64})</pre>', first_view)
    assert shown and shown.group(1) not in str(key)
    page = html.unescape(first_view)
    assert f"key: '{key['key']}'" in page and "/widget/v1/nps.js" in page
    assert shown.group(1) not in (await client.get(made.headers["location"])).text
    listing = await client.get("/admin/widget-keys")
    assert shown.group(1) not in listing.text
    await post_form(client, f"/admin/widget-keys/{key['id']}/disable", {"confirm": "yes"})
    assert (await WidgetKey.select(WidgetKey.active).first())["active"] is False


async def test_a_key_with_a_bad_origin_is_refused_on_the_page(client: Any) -> None:
    await signed_in_admin(client)
    answer = await post_form(
        client, "/admin/widget-keys", {"name": "Web", "allowed_origins": "app.example.com"}
    )
    assert answer.status_code == 422 and "allowed_origins" in answer.text
    assert await WidgetKey.count() == 0


async def test_the_global_gap_is_set_on_the_surveys_page(client: Any) -> None:
    await signed_in_admin(client)
    saved = await post_form(client, "/admin/settings/surveys", {"min_days_between_surveys": "10"})
    assert saved.status_code == 303
    assert 'value="10"' in (await client.get("/admin/surveys")).text


async def test_only_admins_reach_the_admin_pages(client: Any) -> None:
    await create_staff_user("analyst@example.com", Role.analyst, PASSWORD)
    await sign_in(client, "analyst@example.com")
    assert (await client.get("/admin/surveys")).status_code == 403
