"""GET /api/v1/reports/nps: the database counts per segment, analytics adds the interval."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from analytics.nps import nps_interval
from feedback.auth.models import Role
from tests.factories import bearer, book, import_csv, token

SAAS_CHURN = Path(__file__).resolve().parents[2] / "shared" / "data" / "saas_churn.csv"
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a1,u1,6,,2025-04-15T10:00:00Z\n"
    "r4,a2,u3,7,,2025-01-20T10:00:00Z\n"
    "r5,a2,u3,3,,2025-05-20T10:00:00Z\n"
    "r6,b1,u4,10,,2025-03-01T10:00:00Z\n"
    "r7,b1,u4,8,,2025-06-01T10:00:00Z\n"
)


@pytest.fixture
async def admin() -> dict[str, str]:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    return bearer(await token(Role.admin))


async def test_overall_nps_has_counts_and_the_analytics_interval(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/nps", headers=admin)
    assert answer.status_code == 200, answer.text
    (overall,) = answer.json()["groups"]
    assert (overall["promoters"], overall["passives"], overall["detractors"]) == (3, 2, 2)
    assert overall["responses"] == 7 and overall["accounts"] == 3
    expected = nps_interval(3, 2, 2)
    assert overall["nps"] == round(expected.nps, 2)
    assert (overall["ci_low"], overall["ci_high"]) == (
        round(expected.ci_low, 2),
        round(expected.ci_high, 2),
    )
    assert overall["precision"] == "low"


async def test_grouping_by_plan_uses_the_plan_at_answer_time(
    client: Any, admin: dict[str, str]
) -> None:
    await import_csv("accounts", "external_id,name,plan\na1,Acme,free\n")  # changed later
    answer = await client.get("/api/v1/reports/nps?group_by=plan&ci_method=wald", headers=admin)
    groups = {g["key"]: g for g in answer.json()["groups"]}
    assert set(groups) == {"free", "paid", "premium"}
    assert groups["premium"]["responses"] == 3 and groups["premium"]["nps"] is None
    assert groups["premium"]["precision"] == "counts_only"


async def test_grouping_by_quarter_and_filtering_by_date(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=quarter&from=2025-01-01T00:00:00Z&to=2025-06-01T00:00:00Z",
        headers=admin,
    )
    counts = {g["key"]: g["responses"] for g in answer.json()["groups"]}
    assert counts == {"2025-Q1": 4, "2025-Q2": 2}


async def test_filters_narrow_the_responses(client: Any, admin: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=account&csm=ann@example.com", headers=admin
    )
    assert {g["key"] for g in answer.json()["groups"]} == {"a1", "a2"}


async def test_a_csm_sees_only_their_own_accounts(client: Any, admin: dict[str, str]) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    answer = await client.get("/api/v1/reports/nps?group_by=account", headers=bob)
    assert [g["key"] for g in answer.json()["groups"]] == ["b1"]


async def test_csv_escapes_cells_a_spreadsheet_would_run(
    client: Any, admin: dict[str, str]
) -> None:
    await import_csv("accounts", "external_id,name\n=HYPERLINK(1),Evil\n")
    await import_csv(
        "responses", "account_id,user_id,score,answered_at\n=HYPERLINK(1),evil-user,0,2025-01-01\n"
    )
    answer = await client.get("/api/v1/reports/nps?group_by=account&format=csv", headers=admin)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    keys = {r["key"] for r in rows}
    assert "'=HYPERLINK(1)" in keys and "=HYPERLINK(1)" not in keys


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=color", "group_by"),
        ("ci_method=magic", "ci_method"),
        ("confidence=1.5", "confidence"),
        ("from=2025-01-01T00:00:00", "from"),
    ],
)
async def test_bad_parameters_name_the_field(
    client: Any, admin: dict[str, str], query: str, field: str
) -> None:
    answer = await client.get(f"/api/v1/reports/nps?{query}", headers=admin)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == field


async def test_the_report_needs_a_token(client: Any) -> None:
    assert (await client.get("/api/v1/reports/nps")).status_code == 401


async def test_the_saas_churn_file_gives_the_nps_an_independent_count_gives(
    client: Any,
) -> None:
    from feedback.imports.saas_churn import import_saas_churn
    from feedback.imports.services import Importer

    data = SAAS_CHURN.read_bytes()
    await import_saas_churn(Importer(), data, "2025-01-01")
    scores = [int(row["csat_score"]) for row in csv.DictReader(io.StringIO(data.decode()))]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    analyst = bearer(await token(Role.analyst))
    report = await client.get("/api/v1/reports/nps?group_by=company_size", headers=analyst)
    groups = report.json()["groups"]
    assert sum(g["promoters"] for g in groups) == promoters
    assert sum(g["detractors"] for g in groups) == detractors
    overall = (await client.get("/api/v1/reports/nps", headers=analyst)).json()["groups"][0]
    assert overall["nps"] == round(100 * (promoters - detractors) / len(scores), 2)


async def test_a_trend_splits_each_segment_by_quarter(client: Any, admin: dict[str, str]) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=plan&period=quarter", headers=admin)
    assert answer.status_code == 200, answer.text
    cells = {(g["key"], g["period"]): g["responses"] for g in answer.json()["groups"]}
    assert cells == {
        ("premium", "2025-Q1"): 2,
        ("premium", "2025-Q2"): 1,
        ("paid", "2025-Q1"): 1,
        ("paid", "2025-Q2"): 1,
        ("free", "2025-Q1"): 1,
        ("free", "2025-Q2"): 1,
    }
    bad = await client.get("/api/v1/reports/nps?group_by=quarter&period=month", headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "period"
