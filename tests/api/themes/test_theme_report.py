"""GET /api/v1/reports/themes: each figure against a computation of its own in the test."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest
from scipy.stats import binomtest, false_discovery_control, norm

from feedback.kernel.principal import Role
from feedback.responses.models import Response
from feedback.themes.build import build_themes
from feedback.themes.models import ThemeMember
from tests.support.factories import bearer, import_csv, token


@pytest.fixture
async def analyst(comments: None) -> dict[str, str]:
    await build_themes()
    # Globex (a2) gave notice on 2025-07-01, after all its answers; Initech (b1) before any
    churn = "account_id,noticed_at\na2,2025-07-01T00:00:00Z\nb1,2024-12-01T00:00:00Z\n"
    assert (await import_csv("churn", churn)).ok
    return bearer(await token(Role.analyst))


async def scores_by_theme() -> dict[int, list[tuple[int, str]]]:
    rows = await ThemeMember.select(
        ThemeMember.theme, ThemeMember.response.score, ThemeMember.response.account.external_id
    )
    grouped: dict[int, list[tuple[int, str]]] = {}
    for row in rows:
        grouped.setdefault(row["theme"], []).append(
            (row["response.score"], row["response.account.external_id"])
        )
    return grouped


def nps(scores: list[int]) -> tuple[float, float]:
    """NPS on -100..100 and the variance of the fraction (trinomial)."""
    n = len(scores)
    p = sum(s >= 9 for s in scores) / n
    d = sum(s <= 6 for s in scores) / n
    return 100 * (p - d), (p + d - (p - d) ** 2) / n


async def test_each_themes_figures_equal_an_independent_computation(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/themes", headers=analyst)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    every = [r["score"] for r in await Response.select(Response.score)]
    members = await scores_by_theme()
    detractors = sum(s <= 6 for s in every)
    assert body["commented"]["responses"] == len(every) == 60
    p_values = []
    for theme in body["themes"]:
        scores = [s for s, _ in members[theme["id"]]]
        assert theme["score"]["responses"] == len(scores)
        assert theme["detractor_share"] == pytest.approx(sum(s <= 6 for s in scores) / detractors)
        if len(scores) < 5:  # counts only: no score, no comparison
            assert theme["score"]["nps"] is None and theme["versus_rest"] is None
            continue
        own, own_var = nps(scores)
        assert theme["score"]["nps"] == pytest.approx(own)
        rest = list(every)
        for s in scores:
            rest.remove(s)
        rest_nps, rest_var = nps(rest)
        versus = theme["versus_rest"]
        assert versus["diff"] == pytest.approx(own - rest_nps)
        se = math.sqrt(own_var + rest_var)
        p = 1.0 if se == 0 else 2 * norm.sf(abs(own - rest_nps) / 100 / se)
        assert versus["p_value"] == pytest.approx(p)
        p_values.append(p)
        # churn: accounts mentioning it, less Initech (notice before its first mention)
        accounts = {a for _, a in members[theme["id"]]} - {"b1"}
        churned = int("a2" in accounts)
        assert (theme["churn"]["accounts"], theme["churn"]["churned"]) == (len(accounts), churned)
        interval = binomtest(churned, len(accounts)).proportion_ci(method="wilson")
        assert theme["churn"]["ci_low"] == pytest.approx(max(0.0, interval.low))
        assert sum(q["score"]["responses"] for q in theme["trend"]) == len(scores)
    assert len(p_values) >= 4
    adjusted = false_discovery_control(p_values, method="bh")
    compared = [t["versus_rest"] for t in body["themes"] if t["versus_rest"]]
    assert [v["p_adjusted"] for v in compared] == pytest.approx(adjusted)


async def test_the_theme_report_as_csv_has_a_row_per_theme(
    client: Any, analyst: dict[str, str]
) -> None:
    as_json = (await client.get("/api/v1/reports/themes?language=ja", headers=analyst)).json()
    answer = await client.get("/api/v1/reports/themes?language=ja&format=csv", headers=analyst)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["theme_id"]) for r in rows] == [t["id"] for t in as_json["themes"]]
    assert all(r["language"] == "ja" for r in rows)


async def test_a_csm_sees_the_report_over_their_own_accounts(
    client: Any, analyst: dict[str, str]
) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    body = (await client.get("/api/v1/reports/themes", headers=bob)).json()
    initech = [
        r["score"]
        for r in await Response.select(Response.score).where(Response.account.external_id == "b1")
    ]
    assert body["commented"]["responses"] == len(initech)
    assert sum(t["churn"]["accounts"] for t in body["themes"]) == 0  # b1 churned before


@pytest.mark.parametrize(
    ("query", "field"),
    [("language=fr", "language"), ("confidence=2", "confidence"), ("q=0", "q")],
)
async def test_bad_report_options_are_422_naming_the_field(
    client: Any, analyst: dict[str, str], query: str, field: str
) -> None:
    answer = await client.get(f"/api/v1/reports/themes?{query}", headers=analyst)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == field


async def test_the_comments_explorer_filters_by_theme(client: Any, analyst: dict[str, str]) -> None:
    members = await scores_by_theme()
    theme, scores = max(members.items(), key=lambda item: len(item[1]))
    answer = await client.get(f"/api/v1/reports/responses?theme={theme}", headers=analyst)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == len(scores)
    bad = await client.get("/api/v1/reports/responses?theme=0", headers=analyst)
    assert 400 <= bad.status_code < 500
    assert bad.json()["detail"][0]["field"] == "theme"
