"""POST /api/v1/metrics: usage metrics per account per day, idempotent, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.health.models import UsageMetric
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token


@pytest.fixture
async def admin() -> dict[str, str]:
    await book()
    return bearer(await token(Role.admin))


async def test_it_stores_metrics_and_lists_them(client: Any, admin: dict[str, str]) -> None:
    body = [
        {"account_id": "a1", "metric": "weekly_active_users", "day": "2026-11-01", "value": 40},
        {"account_id": "a2", "metric": "weekly_active_users", "day": "2026-11-01", "value": 7.5},
    ]
    answer = await client.post("/api/v1/metrics", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 2, "accounts": 2}
    listed = await client.get("/api/v1/metrics?account=a2", headers=admin)
    assert listed.json() == [
        {
            "account_id": "a2",
            "metric": "weekly_active_users",
            "day": "2026-11-01",
            "value": 7.5,
            "updated_at": listed.json()[0]["updated_at"],
        }
    ]


async def test_sending_the_same_day_again_replaces_the_value(
    client: Any, admin: dict[str, str]
) -> None:
    item = {"account_id": "a1", "metric": "logins", "day": "2026-11-01", "value": 3}
    for value in (3, 3, 9):
        answer = await client.post(
            "/api/v1/metrics", json={"metrics": [{**item, "value": value}]}, headers=admin
        )
        assert answer.status_code == 200, answer.text
    rows = await UsageMetric.select(UsageMetric.value)
    assert rows == [{"value": 9.0}]


GOOD = {"account_id": "a1", "metric": "logins", "day": "2026-11-01", "value": 1}
BAD_ITEMS = [
    ({k: v for k, v in GOOD.items() if k != "account_id"}, "metrics[1].account_id"),
    ({**GOOD, "account_id": "zz"}, "metrics[1].account_id"),
    ({**GOOD, "metric": "Log ins"}, "metrics[1].metric"),
    ({**GOOD, "day": "01/11/2026"}, "metrics[1].day"),
    ({**GOOD, "day": "2999-01-01"}, "metrics[1].day"),
    ({**GOOD, "value": "1"}, "metrics[1].value"),
    ({k: v for k, v in GOOD.items() if k != "value"}, "metrics[1].value"),
    ({**GOOD, "x": 1}, "metrics[1].x"),
]


@pytest.mark.parametrize(("item", "field"), BAD_ITEMS)
async def test_a_bad_item_answers_422_naming_it_and_nothing_is_written(
    client: Any, admin: dict[str, str], item: dict[str, Any], field: str
) -> None:
    answer = await client.post("/api/v1/metrics", json=[GOOD, item], headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == field
    assert await UsageMetric.count() == 0


async def test_an_empty_or_malformed_body_is_refused(client: Any, admin: dict[str, str]) -> None:
    for body in ([], {"rows": []}, "nope"):
        answer = await client.post("/api/v1/metrics", json=body, headers=admin)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["field"] == "metrics"
    broken = await client.post(
        "/api/v1/metrics", content=b"{", headers={**admin, "content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["field"] == "body"


async def test_a_csm_lists_only_their_accounts_metrics(client: Any, admin: dict[str, str]) -> None:
    body = [
        {"account_id": a, "metric": "logins", "day": "2026-11-01", "value": 1} for a in ("a1", "b1")
    ]
    assert (await client.post("/api/v1/metrics", json=body, headers=admin)).status_code == 200
    ann = bearer(await token(Role.csm, "ann@example.com"))
    listed = await client.get("/api/v1/metrics", headers=ann)
    assert [r["account_id"] for r in listed.json()] == ["a1"]
