"""GET /api/v1/reports/segments: segment vs rest with account-level variance and FDR."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from analytics.compare import compare_clustered
from feedback.demo import load_demo
from feedback.kernel.principal import Role
from feedback.responses.models import Response
from tests.support.factories import bearer, token


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
    rows = await Response.select(Response.plan, Response.account, Response.score).where(
        Response.environment == "production"
    )
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


def per_account(rows: list[dict[str, Any]], key: Any) -> dict[tuple[Any, int], list[int]]:
    cells: dict[tuple[Any, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        slot = 0 if row["score"] >= 9 else 1 if row["score"] >= 7 else 2
        cells[(key(row), row["account"])][slot] += 1
    return cells


async def test_managers_are_compared_at_account_level(client: Any, analyst: dict[str, str]) -> None:
    from feedback.accounts.models import CSM

    answer = await client.get("/api/v1/reports/segments?dimension=manager", headers=analyst)
    assert answer.status_code == 200, answer.text
    segments = {s["key"]: s for s in answer.json()["segments"]}
    csms = await CSM.select(CSM.id, CSM.manager.email.as_alias("manager_email"))
    manager_of = {c["id"]: c["manager_email"] for c in csms}
    rows = await Response.select(Response.csm, Response.account, Response.score).where(
        Response.environment == "production"
    )
    cells = per_account(rows, lambda r: manager_of.get(r["csm"]))
    managers = {m for m, _ in cells if m is not None}
    assert set(segments) == managers == {"maria.lead@example.com", "kenji.lead@example.com"}
    for name, segment in segments.items():
        mine = [c for (m, _), c in cells.items() if m == name]
        rest = [c for (m, _), c in cells.items() if m is not None and m != name]
        expected = compare_clustered(mine, rest)
        assert segment["method"] == "cluster-robust (accounts)"
        assert segment["accounts"] == len(mine)
        assert segment["diff"] == round(expected.diff, 2)
        assert segment["p_value"] == pytest.approx(expected.p_value, rel=1e-9)


async def test_traits_are_compared_with_each_accounts_answers_as_one_cluster(
    client: Any, analyst: dict[str, str]
) -> None:
    # an account-level trait (by account) and a user-level one (by role) in the snapshots
    rows = await Response.select(
        Response.id, Response.account, Response.role, Response.score
    ).where(Response.environment == "production")
    region = {r["account"]: "emea" if r["account"] % 3 else "amer" for r in rows}
    for account_region in ("emea", "amer"):
        for role in {r["role"] for r in rows}:
            ids = [
                r["id"]
                for r in rows
                if region[r["account"]] == account_region and r["role"] == role
            ]
            if ids:
                await Response.update(
                    {Response.traits: {"region": account_region, "seat": str(role)}}
                ).where(Response.id.is_in(ids))
    await Response.update({Response.traits: {}}).where(Response.id == rows[0]["id"])
    rows = [r for r in rows if r["id"] != rows[0]["id"]]  # no traits: in no segment

    by_region = await client.get("/api/v1/reports/segments?dimension=trait:region", headers=analyst)
    assert by_region.status_code == 200, by_region.text
    segments = {s["key"]: s for s in by_region.json()["segments"]}
    cells = per_account(rows, lambda r: region[r["account"]])
    emea = [c for (k, _), c in cells.items() if k == "emea"]
    amer = [c for (k, _), c in cells.items() if k == "amer"]
    expected = compare_clustered(emea, amer)
    assert segments["emea"]["diff"] == round(expected.diff, 2)
    assert segments["emea"]["p_value"] == pytest.approx(expected.p_value, rel=1e-9)

    by_seat = await client.get("/api/v1/reports/segments?dimension=trait:seat", headers=analyst)
    assert by_seat.status_code == 200, by_seat.text
    segments = {s["key"]: s for s in by_seat.json()["segments"]}
    assert segments and {s["method"] for s in segments.values()} == {"cluster-robust (accounts)"}
    cells = per_account(rows, lambda r: str(r["role"]))
    for seat, segment in segments.items():
        mine = [c for (k, _), c in cells.items() if k == seat]
        rest: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for (k, account), c in cells.items():
            if k != seat:
                rest[account] = [x + y for x, y in zip(rest[account], c, strict=True)]
        expected = compare_clustered(mine, list(rest.values()))
        assert segment["responses"] == sum(map(sum, mine))
        assert segment["diff"] == round(expected.diff, 2)
        assert segment["ci_low"] == round(expected.ci_low, 2)
        assert segment["p_value"] == pytest.approx(expected.p_value, rel=1e-9)


@pytest.mark.parametrize("dimension", ["trait:", "trait:a%20b", "trait:a'b", "account", "user"])
async def test_a_bad_scan_dimension_names_the_field(
    client: Any, analyst: dict[str, str], dimension: str
) -> None:
    answer = await client.get(f"/api/v1/reports/segments?dimension={dimension}", headers=analyst)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "dimension"
