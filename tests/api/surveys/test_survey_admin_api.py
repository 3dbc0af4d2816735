"""Admins configure surveys, schedules, widget keys and the global gap through the API."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.auth.models import AuditEntry
from feedback.kernel.principal import Role
from feedback.surveys.models import Schedule, WidgetKey
from tests.support.factories import bearer, token


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_an_admin_creates_a_survey_a_schedule_and_a_key(
    client: Any, admin: dict[str, str]
) -> None:
    survey = await client.post(
        "/api/v1/surveys",
        headers=admin,
        json={
            "name": "Quarterly NPS",
            "product_name": "Acme HR",
            "texts": {"en": {"question": "Would you recommend {product}?"}},
        },
    )
    assert survey.status_code == 201, survey.text
    schedule = await client.post(
        "/api/v1/schedules",
        headers=admin,
        json={
            "survey_id": survey.json()["id"],
            "sample_percent": 50,
            "targeting": {"include": {"plan": ["paid"]}, "url_exclude": ["/billing*"]},
        },
    )
    assert schedule.status_code == 201, schedule.text
    key = await client.post(
        "/api/v1/widget-keys",
        headers=admin,
        json={
            "name": "Web app",
            "allowed_origins": ["https://app.example.com/"],
            "require_identity": True,
        },
    )
    assert key.status_code == 201
    made = key.json()
    assert made["key"].startswith("wk_live_") and len(made["identity_secret"]) == 64
    assert made["allowed_origins"] == ["https://app.example.com"]
    listed = await client.get("/api/v1/widget-keys", headers=admin)
    assert "identity_secret" not in listed.json()[0]
    assert await AuditEntry.count().where(AuditEntry.action == "widget_key.create") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targeting": {"include": {"role": "admin"}}}, "targeting"),
        ({"targeting": {"somewhere": 1}}, "targeting"),
        ({"sample_percent": 120}, "sample_percent"),
        ({"cadence_days": 0}, "cadence_days"),
        ({"starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}, "ends_at"),
        ({"starts_at": "2027-01-02T00:00:00"}, "starts_at"),
        ({"survey_id": 999}, "survey_id"),
        ({"survey_id": 2**40}, "survey_id"),  # fits 64 bits, not the column
        ({"priority": 2**40}, "priority"),
        ({"max_users_per_account": 2**40}, "max_users_per_account"),
    ],
)
async def test_a_bad_schedule_names_the_field(
    client: Any, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    survey = await client.post("/api/v1/surveys", headers=admin, json={"name": "NPS"})
    answer = await client.post(
        "/api/v1/schedules", headers=admin, json={"survey_id": survey.json()["id"], **body}
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == field
    assert await Schedule.count() == 0


@pytest.mark.parametrize("origin", ["app.example.com", "https://a.example/path", "ftp://x.y"])
async def test_a_bad_origin_is_refused(client: Any, admin: dict[str, str], origin: str) -> None:
    answer = await client.post(
        "/api/v1/widget-keys", headers=admin, json={"name": "Web", "allowed_origins": [origin]}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "allowed_origins"
    assert await WidgetKey.count() == 0


async def test_the_global_gap_is_an_admin_setting(client: Any, admin: dict[str, str]) -> None:
    assert (await client.get("/api/v1/settings/surveys", headers=admin)).json() == {
        "min_days_between_surveys": 7
    }
    changed = await client.put(
        "/api/v1/settings/surveys", headers=admin, json={"min_days_between_surveys": 14}
    )
    assert changed.status_code == 200
    assert (await client.get("/api/v1/settings/surveys", headers=admin)).json() == {
        "min_days_between_surveys": 14
    }


async def test_disabling_a_key_stops_the_widget_at_once(client: Any, admin: dict[str, str]) -> None:
    made = (
        await client.post(
            "/api/v1/widget-keys",
            headers=admin,
            json={"name": "Web", "environment": "development", "allowed_origins": ["*"]},
        )
    ).json()
    check = f"/widget/v1/{made['key']}/eligibility"
    body = '{"user_id": "u", "account_id": "a"}'
    assert (await client.post(check, content=body)).status_code == 200  # now cached
    assert (
        await client.delete(f"/api/v1/widget-keys/{made['id']}", headers=admin)
    ).status_code == 204
    assert (await client.post(check, content=body)).status_code == 401


async def test_a_change_of_texts_reaches_the_next_survey_shown_in_every_locale(
    client: Any, admin: dict[str, str]
) -> None:
    """Each locale's texts are merged once and kept with the schedules: users asking for
    different locales get their own, and an admin's change is in the next survey shown."""
    from tests.support.factories import ORIGIN, widget_setup

    setup = await widget_setup()

    async def question(user: str, locale: str) -> str:
        answer = await client.post(
            f"/widget/v1/{setup['key']}/eligibility",
            headers=ORIGIN,
            json={"user_id": user, "account_id": "acct", "traits": {"locale": locale}},
        )
        body = answer.json()
        assert body["show"] is True, body
        return f"{body['locale']}: {body['texts']['question']}"

    assert (await question("u-1", "en-GB")).startswith("en: How likely")
    assert (await question("u-2", "ja-JP")).startswith("ja: ")
    assert (await question("u-3", "en-US")).startswith("en: How likely")
    changed = await client.put(
        f"/api/v1/surveys/{setup['survey']}",
        headers=admin,
        json={
            "name": "NPS",
            "product_name": "Acme HR",
            "texts": {
                "en": {"question": "Would you recommend {product}?"},
                "ja": {"question": "{product}を勧めますか？"},
            },
        },
    )
    assert changed.status_code == 200, changed.text
    assert await question("u-4", "en-US") == "en: Would you recommend Acme HR?"
    assert await question("u-5", "ja") == "ja: Acme HRを勧めますか？"
