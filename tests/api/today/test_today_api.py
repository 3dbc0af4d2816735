"""GET /api/v1/today: the caller's Today as JSON, for CSMs, managers and admins."""

from __future__ import annotations

from datetime import date
from typing import Any

from feedback.accounts.models import CSM, Account
from feedback.ctas.models import Cta
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token


async def test_a_csm_gets_their_today_as_json(client: Any) -> None:
    await book()

    ann = await CSM.select(CSM.id).where(CSM.email == "ann@example.com").first()
    a1 = await Account.select(Account.id).where(Account.external_id == "a1").first()
    b1 = await Account.select(Account.id).where(Account.external_id == "b1").first()
    # due long ago, whatever day the test runs
    await Cta(
        type="risk", reason="r", account=a1["id"], owner=ann["id"], due_on=date(2020, 1, 1)
    ).save()
    await Cta(type="risk", reason="r", account=b1["id"], owner=None, due_on=date(2020, 1, 1)).save()
    answer = await client.get(
        "/api/v1/today", headers=bearer(await token(Role.csm, "ann@example.com"))
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["counts"]["overdue"] == 1
    [cta] = body["overdue"]
    assert cta["account_external_id"] == "a1"
    assert "slack_ts" not in cta
    assert body["team"] is None
    assert set(body["counts"]) == {
        "overdue",
        "due_today",
        "new_detractors",
        "red_accounts",
        "renewals_90d",
        "going_dark",
        "unclaimed_pool",
    }


async def test_an_admin_sees_everyone_and_a_team(client: Any) -> None:
    await book()
    answer = await client.get("/api/v1/today", headers=bearer(await token(Role.admin)))
    assert answer.status_code == 200
    assert answer.json()["team"] == []


async def test_an_analyst_may_not_call_it(client: Any) -> None:
    answer = await client.get("/api/v1/today", headers=bearer(await token(Role.analyst)))
    assert answer.status_code == 403
    assert "csm" in answer.json()["error"]


async def test_without_a_token_it_is_401(client: Any) -> None:
    assert (await client.get("/api/v1/today")).status_code == 401
