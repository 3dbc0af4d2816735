"""GET /api/v1/reports/responses: the comments explorer and the promoters list."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token

RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,Love the 100% uptime,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a2,u3,3,Search is SLOW,2025-03-15T10:00:00Z\n"
    "r4,b1,u4,8,=cmd|' /c calc'!A0,2025-04-15T10:00:00Z\n"
)


@pytest.fixture
async def analyst() -> dict[str, str]:
    await book()
    assert (await import_csv("responses", RESPONSES)).ok
    return bearer(await token(Role.analyst))


async def test_promoters_with_comments_are_listed_for_advocacy(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/responses?category=promoter&has_comment=true", headers=analyst
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 1
    (only,) = body["responses"]
    assert (only["user_id"], only["account_name"], only["comment"]) == (
        "u1",
        "Acme",
        "Love the 100% uptime",
    )


async def test_comment_search_is_case_insensitive_and_literal(
    client: Any, analyst: dict[str, str]
) -> None:
    slow = await client.get("/api/v1/reports/responses?q=slow", headers=analyst)
    assert [r["user_id"] for r in slow.json()["responses"]] == ["u3"]
    percent = await client.get("/api/v1/reports/responses?q=100%25", headers=analyst)
    assert [r["user_id"] for r in percent.json()["responses"]] == ["u1"]
    wildcard = await client.get("/api/v1/reports/responses?q=_", headers=analyst)
    assert wildcard.json()["total"] == 0


async def test_the_per_account_view_lists_newest_first(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/responses?account=a1", headers=analyst)
    assert [r["user_id"] for r in answer.json()["responses"]] == ["u2", "u1"]


async def test_a_csm_sees_only_answers_from_their_accounts(
    client: Any, analyst: dict[str, str]
) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    answer = await client.get("/api/v1/reports/responses", headers=bob)
    assert [r["account_id"] for r in answer.json()["responses"]] == ["b1"]


async def test_the_csv_export_defuses_formulas_in_comments(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/responses?format=csv", headers=analyst)
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    comments = {r["comment"] for r in rows}
    assert "'=cmd|' /c calc'!A0" in comments
    assert not any(c.startswith("=") for c in comments)


async def test_an_unknown_category_names_the_field(client: Any, analyst: dict[str, str]) -> None:
    answer = await client.get("/api/v1/reports/responses?category=fan", headers=analyst)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "category"


async def test_answers_filter_by_manager_user_and_trait(
    client: Any, analyst: dict[str, str]
) -> None:
    from feedback.accounts.models import EndUser
    from feedback.responses.models import Response

    # Ann and Bob both report to Boss: every answer; Ann reports to no one else
    team = await client.get("/api/v1/reports/responses?manager=boss@example.com", headers=analyst)
    assert team.json()["total"] == 4
    nobody = await client.get("/api/v1/reports/responses?manager=ann@example.com", headers=analyst)
    assert nobody.json()["total"] == 0
    one = await client.get("/api/v1/reports/responses?user=u3", headers=analyst)
    assert [r["comment"] for r in one.json()["responses"]] == ["Search is SLOW"]
    user = await EndUser.select(EndUser.id).where(EndUser.external_id == "u1").first()
    await Response.update({Response.traits: {"team": "blue"}}).where(
        Response.end_user == user["id"]
    )
    blue = await client.get("/api/v1/reports/responses?trait:team=blue", headers=analyst)
    assert [r["user_id"] for r in blue.json()["responses"]] == ["u1"]
    bad = await client.get("/api/v1/reports/responses?trait:te%20am=blue", headers=analyst)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "trait:te am"


async def test_a_nul_character_in_the_search_is_refused_by_name(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/responses", params={"q": "a\x00"}, headers=analyst)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "q"
