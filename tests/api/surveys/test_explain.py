"""Explaining who gets which survey: every active schedule's verdict for a key, a user and a
page, from the widget's own rules, and nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from feedback.accounts.models import Account, EndUser
from feedback.auth.models import AuditEntry
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.responses.models import Response
from feedback.surveys.models import Display, Schedule, Survey, WidgetKey
from tests.support.factories import bearer, token
from tests.support.web import csrf_token, signed_in_admin

TABLES = (Account, EndUser, Display, Response, Schedule, Survey, WidgetKey, AuditEntry)


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        table._meta.tablename: await table.select().order_by(table._meta.primary_key)
        for table in TABLES
    }


async def world() -> dict[str, Any]:
    """Two keys, six schedules with one verdict each, and a user the previous tool asked."""
    survey = Survey(name="NPS", product_name="Acme HR")
    await survey.save()
    production = WidgetKey(key="wk_test_prod", name="Web app", environment="production")
    staging = WidgetKey(key="wk_test_stage", name="Staging", environment="staging")
    await production.save()
    await staging.save()
    names: dict[str, int] = {}
    for name, rules in [
        ("staging only", {"environments": ["staging"]}),
        ("enterprise only", {"targeting": {"include": {"plan": ["enterprise"]}}}),
        ("quarterly", {"cadence_days": 90}),
        ("nobody sampled", {"cadence_days": 5, "sample_percent": 0.0}),
        ("weekly", {"cadence_days": 5}),
        ("weekly, lower", {"cadence_days": 5, "priority": -1}),
    ]:
        row = Schedule(survey=survey.id, name=name, first_survey_after_days=0, **rules)
        await row.save()
        names[name] = row.id
    account = Account(external_id="acct-1", name="Acme", plan="premium")
    await account.save()
    asked = utcnow() - timedelta(days=10)
    await EndUser(
        external_id="u-1",
        account=account.id,
        first_seen_at=utcnow() - timedelta(days=400),
        asked_elsewhere_at=asked,
    ).save()
    return {"production": production.id, "staging": staging.id, "schedules": names}


async def test_every_schedule_has_its_verdict_and_nothing_is_written(
    client: Any, admin: dict[str, str]
) -> None:
    setup = await world()
    before = await snapshot()
    answer = await client.post(
        "/api/v1/eligibility/explain",
        headers=admin,
        json={
            "widget_key_id": setup["production"],
            "user_id": "u-1",
            "account_id": "acct-1",
            "traits": {"role": "admin"},
            "url": "https://app.example.com/dashboard",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    verdicts = {v["name"]: v for v in body["schedules"]}
    assert list(verdicts) == [
        "staging only",
        "enterprise only",
        "quarterly",
        "nobody sampled",
        "weekly",
        "weekly, lower",
    ]
    assert verdicts["staging only"]["takes_key"] is False
    assert verdicts["staging only"]["scope"] == "Staging keys only"
    assert verdicts["enterprise only"]["targeted"] is False
    assert "include.plan" in verdicts["enterprise only"]["targeting_refusal"]
    assert "'premium'" in verdicts["enterprise only"]["targeting_refusal"]
    assert verdicts["quarterly"]["cadence"]["reason"] == "asked by the previous tool"
    assert verdicts["nobody sampled"]["cadence"]["reason"] == "not sampled this cycle"
    assert verdicts["weekly"]["would_show"] is True
    assert verdicts["weekly, lower"]["cadence"]["show"] is True
    assert verdicts["weekly, lower"]["would_show"] is False
    assert "comes first" in verdicts["weekly, lower"]["verdict"]
    assert body["shows"] == setup["schedules"]["weekly"]
    assert body["user"]["known"] is True and body["user"]["attributes"]["plan"] == "premium"
    assert await snapshot() == before


async def test_an_unknown_user_is_explained_as_new_without_being_created(
    client: Any, admin: dict[str, str]
) -> None:
    setup = await world()
    await Schedule.update({Schedule.first_survey_after_days: 14}).where(Schedule.name == "weekly")
    before = await snapshot()
    answer = await client.post(
        "/api/v1/eligibility/explain",
        headers=admin,
        json={
            "widget_key_id": setup["staging"],
            "user_id": "someone-new",
            "account_id": "acct-new",
            "traits": {"plan": "enterprise"},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    verdicts = {v["name"]: v for v in body["schedules"]}
    assert body["user"]["known"] is False and body["user"]["account_known"] is False
    assert verdicts["staging only"]["takes_key"] is True
    assert verdicts["enterprise only"]["targeted"] is True  # the account's plan, from traits
    assert verdicts["weekly"]["cadence"]["reason"] == "new user"
    assert body["shows"] == setup["schedules"]["staging only"]
    assert any("new user" in note for note in body["notes"])
    assert await snapshot() == before


async def test_a_survey_on_screen_and_the_chosen_one_match_the_widget(
    client: Any, admin: dict[str, str]
) -> None:
    """What explain says the widget would show is what the widget then shows; explaining
    again while it is on screen says so."""
    setup = await world()
    asked = {
        "widget_key_id": setup["production"],
        "user_id": "u-1",
        "account_id": "acct-1",
    }
    explained = (await client.post("/api/v1/eligibility/explain", headers=admin, json=asked)).json()
    await WidgetKey.update({WidgetKey.allowed_origins: ["*"]}).where(
        WidgetKey.id == setup["production"]
    )
    shown = await client.post(
        "/widget/v1/wk_test_prod/eligibility",
        content='{"user_id": "u-1", "account_id": "acct-1"}',
        headers={"origin": "https://app.example.com"},
    )
    assert shown.json()["show"] is True
    display = await Display.select(Display.schedule).first()
    assert display["schedule"] == explained["shows"]
    again = (await client.post("/api/v1/eligibility/explain", headers=admin, json=asked)).json()
    assert again["shows"] is None and "on screen" in again["summary"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"widget_key_id": 999_999, "user_id": "u", "account_id": "a"}, "widget_key"),
        ({"widget_key_id": 1, "account_id": "a"}, "user_id"),
        ({"widget_key_id": 1, "user_id": "u", "account_id": "a", "url": "x" * 2001}, "url"),
    ],
)
async def test_a_bad_question_names_its_field(
    client: Any, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = await client.post("/api/v1/eligibility/explain", headers=admin, json=body)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == field


async def test_only_admins_may_explain(client: Any) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.post(
        "/api/v1/eligibility/explain",
        headers=analyst,
        json={"widget_key_id": 1, "user_id": "u", "account_id": "a"},
    )
    assert answer.status_code == 403


async def test_the_page_explains_with_key_value_traits_and_writes_nothing(client: Any) -> None:
    setup = await world()
    await signed_in_admin(client)
    empty = await client.get("/admin/schedules/explain")
    assert empty.status_code == 200 and "Web app (production)" in empty.text
    before = await snapshot()
    page = await post_form(
        client,
        {
            "widget_key": str(setup["production"]),
            "user_id": "u-1",
            "account_id": "acct-1",
            "traits": "role=admin\nteam=blue",
            "url": "https://app.example.com/",
        },
    )
    assert page.status_code == 200, page.text
    assert "asked by the previous tool" in page.text and "Would show now." in page.text
    assert "The widget would show weekly (NPS) now." in page.text
    assert await snapshot() == before
    bad = await post_form(
        client,
        {
            "widget_key": str(setup["production"]),
            "user_id": "u",
            "account_id": "a",
            "traits": "no equals sign",
        },
    )
    assert bad.status_code == 422 and "name=value" in bad.text


async def post_form(client: Any, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/schedules/explain")
    return await client.post("/admin/schedules/explain", data={**data, "_csrf_token": token})
