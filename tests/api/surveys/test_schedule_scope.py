"""Schedules limited to widget keys or environments: the widget only asks through a schedule
that takes the calling key, whether the user is new (PostgreSQL's one-statement path) or
known (the general path)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedback.kernel.cache import forget_configuration
from feedback.kernel.principal import Role
from feedback.surveys.models import Display, Schedule, Survey, WidgetKey
from tests.support.factories import ORIGIN, bearer, token
from tests.support.web import signed_in_admin

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def key(name: str, environment: str) -> dict[str, Any]:
    row = WidgetKey(
        key=f"wk_test_{name}",
        name=name,
        environment=environment,
        allowed_origins=["https://app.example.com"],
        identity="browser",
    )
    await row.save()
    return {"id": row.id, "key": row.key}


async def check(client: Any, key: str, user_id: str) -> dict[str, Any]:
    answer = await client.post(
        f"/widget/v1/{key}/eligibility",
        content=json.dumps({"user_id": user_id, "account_id": "acct-1"}),
        headers=TEXT,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def schedule(client: Any, admin: dict[str, str], **scope: Any) -> Any:
    survey = Survey(name="Checkout NPS", product_name="Acme HR")
    await survey.save()
    return await client.post(
        "/api/v1/schedules",
        headers=admin,
        json={"survey_id": survey.id, "first_survey_after_days": 0, **scope},
    )


async def test_a_schedule_for_a_staging_key_is_never_chosen_for_a_production_key(
    client: Any, admin: dict[str, str]
) -> None:
    production = await key("prod", "production")
    staging = await key("stage", "staging")
    made = await schedule(client, admin, widget_keys=[staging["id"]])
    assert made.status_code == 201, made.text
    assert made.json()["widget_keys"] == [staging["id"]]
    # a new user, then the same user again (known now): production never asks them
    assert (await check(client, production["key"], "u-1"))["show"] is False
    assert (await check(client, production["key"], "u-2"))["show"] is False
    # the staging key asks a known user (u-1) and a new one (u-3)
    assert (await check(client, staging["key"], "u-1"))["show"] is True
    assert (await check(client, staging["key"], "u-3"))["show"] is True


async def test_a_schedule_for_an_environment_takes_every_key_of_it_and_no_other(
    client: Any, admin: dict[str, str]
) -> None:
    production = await key("prod", "production")
    staging = await key("stage", "staging")
    other_staging = await key("stage2", "staging")
    made = await schedule(client, admin, environments=["staging"])
    assert made.status_code == 201, made.text
    assert (await check(client, production["key"], "u-1"))["show"] is False
    assert (await check(client, staging["key"], "u-2"))["show"] is True
    assert (await check(client, other_staging["key"], "u-3"))["show"] is True
    assert (await check(client, staging["key"], "u-1"))["show"] is True  # known by now


async def test_the_scoped_schedule_wins_over_an_open_one_only_for_its_key(
    client: Any, admin: dict[str, str]
) -> None:
    """A survey made for one product area is shown there even though an older schedule
    (the demo's, say) asks through production keys at a higher priority."""
    production = await key("prod", "production")
    marketing = await key("marketing", "production")
    first = await schedule(client, admin, environments=["production"], priority=5)
    assert first.status_code == 201
    area = await schedule(client, admin, widget_keys=[marketing["id"]], priority=9)
    assert area.status_code == 201
    await check(client, production["key"], "u-1")
    await check(client, marketing["key"], "u-2")
    shown = {
        (row["schedule"], row["widget_key"])
        for row in await Schedule.raw("SELECT schedule, widget_key FROM display")
    }
    assert shown == {(first.json()["id"], production["id"]), (area.json()["id"], marketing["id"])}


async def test_a_changed_scope_reaches_the_widget(client: Any, admin: dict[str, str]) -> None:
    production = await key("prod", "production")
    made = await schedule(client, admin, environments=["staging"])
    assert (await check(client, production["key"], "u-1"))["show"] is False
    body = {k: v for k, v in made.json().items() if k != "id"}
    body.update(environments=[], widget_keys=[production["id"]])
    changed = await client.put(f"/api/v1/schedules/{made.json()['id']}", headers=admin, json=body)
    assert changed.status_code == 200, changed.text
    assert (await check(client, production["key"], "u-2"))["show"] is True


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"widget_keys": [999_999]}, "widget_keys"),
        ({"widget_keys": ["one"]}, "widget_keys"),
        ({"environments": ["live"]}, "environments"),
        ({"environments": [""]}, "environments"),
    ],
)
async def test_a_bad_scope_is_refused_naming_its_field(
    client: Any, admin: dict[str, str], scope: dict[str, Any], field: str
) -> None:
    answer = await schedule(client, admin, **scope)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"][0]["field"].split("[")[0] == field
    assert await Schedule.count() == 0


async def test_the_schedule_list_says_the_scope_in_words(
    client: Any, admin: dict[str, str]
) -> None:
    await key("prod", "production")
    marketing = await key("Marketing site", "staging")
    await schedule(client, admin, environments=["production"])
    await schedule(client, admin, widget_keys=[marketing["id"]])
    await schedule(client, admin)
    await signed_in_admin(client)
    page = (await client.get("/admin/surveys")).text
    assert "Production keys only" in page
    assert "Key: Marketing site (staging)" in page
    assert "Any key" in page


async def test_at_equal_priority_a_schedule_aimed_at_the_key_comes_before_a_catch_all(
    client: Any, admin: dict[str, str]
) -> None:
    """The complaint this answers: a survey made for one product area was never shown,
    because the older catch-all schedule always won. At equal priority the schedule naming
    the key asks first, then one naming its environment, then the catch-all; a higher
    priority still wins over all of them."""
    area = await key("billing", "production")
    other = await key("marketing", "production")
    catch_all = (await schedule(client, admin)).json()["id"]
    by_environment = (await schedule(client, admin, environments=["production"])).json()["id"]
    by_key = (await schedule(client, admin, widget_keys=[area["id"]])).json()["id"]

    async def chosen(widget_key: str, user_id: str) -> int:
        assert (await check(client, widget_key, user_id))["show"] is True
        row = (
            await Display.select(Display.schedule)
            .where(Display.end_user.external_id == user_id)
            .first()
        )
        return int(row["schedule"])

    assert await chosen(area["key"], "u-area") == by_key
    assert await chosen(other["key"], "u-other") == by_environment
    await Schedule.update({Schedule.active: False}).where(Schedule.id == by_environment)
    forget_configuration()
    assert await chosen(other["key"], "u-other-2") == catch_all
    await Schedule.update({Schedule.priority: 5}).where(Schedule.id == catch_all)
    forget_configuration()
    assert await chosen(area["key"], "u-area-2") == catch_all
