"""Reports, churn and trends read production answers unless `environment=` names another,
through every report endpoint and CSV export of /api/v1/reports."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import bearer, token

from .conftest import STAGING


async def get(client: Any, path: str, role: Role = Role.analyst, **params: Any) -> Any:
    headers = bearer(await token(role, "ann@example.com" if role is Role.csm else None))
    return await client.get(path, params=params, headers=headers)


async def ok(client: Any, path: str, **params: Any) -> Any:
    answer = await get(client, path, **params)
    assert answer.status_code == 200, answer.text
    return answer


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_nps_counts_production_answers_only_by_default(client: Any, answers: None) -> None:
    (group,) = (await ok(client, "/api/v1/reports/nps")).json()["groups"]
    assert (group["responses"], group["promoters"], group["detractors"]) == (12, 12, 0)
    assert group["accounts"] == 2 and group["nps"] == 100


async def test_environment_staging_counts_only_staging_answers(client: Any, answers: None) -> None:
    (group,) = (await ok(client, "/api/v1/reports/nps", environment="staging")).json()["groups"]
    assert (group["responses"], group["promoters"], group["detractors"]) == (10, 0, 10)
    assert group["accounts"] == 2 and group["nps"] == -100


async def test_production_by_name_and_in_any_case_is_the_default(
    client: Any, answers: None
) -> None:
    default = (await ok(client, "/api/v1/reports/nps", group_by="plan")).json()["groups"]
    for spelt in ("production", " Production "):
        named = await ok(client, "/api/v1/reports/nps", group_by="plan", environment=spelt)
        assert named.json()["groups"] == default


async def test_development_without_answers_counts_none(client: Any, answers: None) -> None:
    body = (await ok(client, "/api/v1/reports/nps", environment="development")).json()
    assert body["groups"][0]["responses"] == 0


async def test_grouped_reports_keep_staging_out_of_every_group(client: Any, answers: None) -> None:
    body = (await ok(client, "/api/v1/reports/nps", group_by="account")).json()
    assert {g["key"]: g["responses"] for g in body["groups"]} == {"a1": 6, "a2": 6}
    body = (await ok(client, "/api/v1/reports/nps", group_by="plan", period="quarter")).json()
    assert {(g["key"], g["period"]) for g in body["groups"]} == {
        ("premium", "2025-Q1"),
        ("paid", "2025-Q2"),
    }
    body = (await ok(client, "/api/v1/reports/nps", group_by="user", environment="staging")).json()
    assert {g["key"]: g["accounts"] for g in body["groups"]} == {"u2": 1, "u4": 1}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/nps",
        "/api/v1/reports/churn",
        "/api/v1/reports/churn/segments",
        "/api/v1/reports/responses",
        "/api/v1/reports/quadrant",
        "/api/v1/reports/segments",
        "/api/v1/reports/trends",
        "/api/v1/reports/choices?dimension=plan",
        "/api/v1/reports/themes",
    ],
)
async def test_a_bad_environment_is_refused_naming_environment(
    client: Any, answers: None, path: str
) -> None:
    answer = await get(client, path, environment="qa")
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["field"] == "environment"
    assert "production, staging, development" in problem["message"]


async def test_the_nps_csv_export_honours_the_environment(client: Any, answers: None) -> None:
    default = rows_of((await ok(client, "/api/v1/reports/nps", group_by="plan", format="csv")).text)
    assert {r["key"]: r["responses"] for r in default} == {"paid": "6", "premium": "6"}
    staging = await ok(
        client, "/api/v1/reports/nps", group_by="plan", format="csv", environment="staging"
    )
    assert {r["key"]: r["detractors"] for r in rows_of(staging.text)} == {
        "free": "5",
        "premium": "5",
    }


async def test_the_answers_list_and_its_csv_honour_the_environment(
    client: Any, answers: None
) -> None:
    body = (await ok(client, "/api/v1/reports/responses")).json()
    assert body["total"] == 12
    assert not any(STAGING in (r["comment"] or "") for r in body["responses"])
    staging = await ok(client, "/api/v1/reports/responses", environment="staging", format="csv")
    comments = [r["comment"] for r in rows_of(staging.text)]
    assert len(comments) == 10 and all(c.startswith(STAGING) for c in comments)


async def test_churn_classifies_accounts_by_their_production_answers(
    client: Any, answers: None
) -> None:
    """Initech answered on staging only: no answer starts its clock in production (it is a
    non-respondent whose clock starts at its creation, after its notice: left out), while
    on staging it is a detractor that churned; Acme's staging zeros do not pull it down in
    production."""
    body = (await ok(client, "/api/v1/reports/churn")).json()
    rates = {r["group"]: r for r in body["rates"]}
    assert rates["promoter"]["accounts"] == 2 and rates["promoter"]["churned"] == 0
    assert rates["detractor"]["accounts"] == 0
    assert (body["accounts"], body["excluded"]) == (2, 1)
    body = (await ok(client, "/api/v1/reports/churn", environment="staging")).json()
    rates = {r["group"]: r for r in body["rates"]}
    assert (rates["detractor"]["accounts"], rates["detractor"]["churned"]) == (2, 1)
    assert rates["non_respondent"]["accounts"] == 1  # Globex answered in production only


async def test_churn_by_segment_ignores_staging_answers_by_default(
    client: Any, answers: None
) -> None:
    body = (await ok(client, "/api/v1/reports/churn/segments", dimension="plan")).json()
    segments = {s["key"]: s for s in body["segments"]}
    # Initech (free) has no production answer to start its clock before its notice
    assert set(segments) == {"paid", "premium"} and body["excluded"] == 1
    assert segments["premium"]["responses"] == 6 and segments["premium"]["nps"] == 100
    staging = await ok(
        client, "/api/v1/reports/churn/segments", dimension="plan", environment="staging"
    )
    segments = {s["key"]: s for s in staging.json()["segments"]}
    assert segments["free"]["responses"] == 5 and segments["free"]["detractor_accounts"] == 1
    assert segments["paid"]["responses"] == 0
    csv_rows = rows_of(
        (
            await ok(
                client,
                "/api/v1/reports/churn/segments",
                dimension="plan",
                environment="staging",
                format="csv",
            )
        ).text
    )
    assert {r["key"]: r["responses"] for r in csv_rows} == {
        "free": "5",
        "paid": "0",
        "premium": "5",
    }


async def test_trends_ignore_staging_answers_by_default(client: Any, answers: None) -> None:
    body = (await ok(client, "/api/v1/reports/trends", dimension="plan")).json()
    lines = {s["label"]: s for s in body["series"]}
    assert set(lines) == {"All", "premium", "paid"}
    assert lines["All"]["responses"] == 12
    staging = await ok(
        client, "/api/v1/reports/trends", dimension="plan", environment="staging", format="csv"
    )
    keys = {r["key"] for r in rows_of(staging.text)}
    assert keys == {"All", "premium", "free"}


async def test_quadrant_and_segment_scan_read_one_environment(client: Any, answers: None) -> None:
    quadrant = (await ok(client, "/api/v1/reports/quadrant")).json()
    assert {a["account_id"]: a["responses"] for a in quadrant["accounts"]} == {"a1": 6, "a2": 6}
    staging = (await ok(client, "/api/v1/reports/quadrant", environment="staging")).json()
    assert {a["account_id"]: a["nps"] for a in staging["accounts"]} == {"a1": -100, "b1": -100}
    scan = (await ok(client, "/api/v1/reports/segments", dimension="role")).json()
    assert {s["key"]: s["responses"] for s in scan["segments"]} == {"admin": 6, "read-only": 6}
    scan = await ok(client, "/api/v1/reports/segments", dimension="role", environment="staging")
    assert {s["key"]: s["responses"] for s in scan.json()["segments"]} == {
        "admin": 5,
        "recruiter": 5,
    }


async def test_filter_choices_come_from_the_chosen_environment(client: Any, answers: None) -> None:
    default = (await ok(client, "/api/v1/reports/choices", dimension="plan")).json()
    assert [(c["value"], c["responses"]) for c in default["choices"]] == [
        ("paid", 6),
        ("premium", 6),
    ]
    staging = await ok(client, "/api/v1/reports/choices", dimension="plan", environment="staging")
    assert [(c["value"], c["responses"]) for c in staging.json()["choices"]] == [
        ("free", 5),
        ("premium", 5),
    ]
    csms = await ok(client, "/api/v1/reports/choices", dimension="csm", environment="staging")
    assert {c["value"] for c in csms.json()["choices"]} == {"ann@example.com", "bob@example.com"}


async def test_a_csm_sees_their_own_accounts_in_the_environment(client: Any, answers: None) -> None:
    answer = await get(client, "/api/v1/reports/nps", Role.csm, environment="staging")
    assert answer.status_code == 200, answer.text
    (group,) = answer.json()["groups"]
    assert group["responses"] == 5 and group["accounts"] == 1  # Acme's; Initech is Bob's
