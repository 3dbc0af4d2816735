"""GET /api/v1/reports/segments: segment vs rest with account-level variance and FDR."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from analytics.compare import compare_clustered
from feedback.auth.models import Role
from feedback.demo import load_demo
from feedback.responses.models import Response
from tests.factories import bearer, token


@pytest.fixture
async def analyst() -> dict[str, str]:
    await load_demo(today=date(2026, 11, 22))
    return bearer(await token(Role.analyst))


async def test_plans_are_compared_with_the_rest_at_account_level(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/segments?dimension=plan", headers=analyst)
    assert answer.status_code == 200, answer.text
    segments = {s["key"]: s for s in answer.json()["segments"]}
    assert set(segments) == {"free", "paid", "premium"}
    assert all(s["method"] == "cluster-robust (accounts)" for s in segments.values())
    # the same comparison computed here from the rows themselves
    rows = await Response.select(Response.plan, Response.account, Response.score)
    cells: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        slot = 0 if row["score"] >= 9 else 1 if row["score"] >= 7 else 2
        cells[(row["plan"], row["account"])][slot] += 1
    premium = [c for (plan, _), c in cells.items() if plan == "premium"]
    rest = [c for (plan, _), c in cells.items() if plan != "premium"]
    expected = compare_clustered(premium, rest)
    assert segments["premium"]["diff"] == round(expected.diff, 2)
    assert segments["premium"]["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
    adjusted = sorted(s["p_adjusted"] for s in segments.values())
    assert all(
        a >= p
        for a, p in zip(adjusted, sorted(s["p_value"] for s in segments.values()), strict=True)
    )


async def test_roles_share_accounts_so_they_use_the_independent_comparison(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/segments?dimension=role", headers=analyst)
    methods = {s["method"] for s in answer.json()["segments"]}
    assert methods and "cluster-robust (accounts)" not in methods


async def test_an_unknown_dimension_names_the_field(client: Any, analyst: dict[str, str]) -> None:
    answer = await client.get("/api/v1/reports/segments?dimension=colour", headers=analyst)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "dimension"
