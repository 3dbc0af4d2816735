"""GET /api/v1/reports/quadrant: ARR x NPS per account, named by the action to take."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analytics.nps import nps_interval
from feedback.kernel.principal import Role
from feedback.reports.quadrant import rounded
from tests.support.factories import bearer, book, import_csv, token


async def test_accounts_land_in_the_quadrant_of_the_action_they_need(client: Any) -> None:
    await book()  # a1 ARR 120,000.50, a2 9,000, b1 0
    await import_csv(
        "responses",
        "response_id,account_id,user_id,score,answered_at\n"
        "r1,a1,u1,2,2025-01-01\nr2,a1,u2,5,2025-01-02\n"
        "r3,a2,u3,10,2025-01-03\nr4,b1,u4,3,2025-01-04\n",
    )
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/reports/quadrant?arr_threshold=50000", headers=analyst)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    placed = {a["account_id"]: a["quadrant"] for a in body["accounts"]}
    assert placed == {"a1": "protect", "a2": "grow", "b1": "fix"}
    assert body["accounts"][0]["account_id"] == "a1"  # revenue at risk first
    assert body["quadrants"]["protect"] == {"accounts": 1, "arr": 120000.5}
    default = (await client.get("/api/v1/reports/quadrant", headers=analyst)).json()
    assert default["arr_threshold"] == 9000  # the median ARR


async def test_a_bad_threshold_names_the_field(client: Any) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/reports/quadrant?nps_threshold=500", headers=analyst)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == "nps_threshold"


# each account's scores, and its ARR ("" for none); the scores alone decide each figure below
SCORES = {
    "c1": ("50000", [10, 10, 9, 3, 2, 8, 7]),
    "c2": ("50000", [1, 2, 3, 4, 5, 6]),
    "c3": ("200000", [9] * 6),
    "c4": ("10000", [10, 0, 7]),  # too few answers for an interval
    "c5": ("0", [8, 8, 8, 8, 8, 2]),
    "c6": ("75000.25", [6, 9, 9, 0, 10, 7, 7, 8, 9, 10, 1, 9, 9, 10, 4, 8, 9, 9, 10, 10]),
    "c7": ("", [10, 9, 2]),  # no ARR: not placed
    "c8": ("30000", []),  # no answers: not placed
}


async def scored_book() -> None:
    accounts = "".join(f"{a},Company {a},{arr}\n" for a, (arr, _) in SCORES.items())
    result = await import_csv("accounts", "external_id,name,arr\n" + accounts)
    assert result.ok, result.errors
    users = "".join(f"u-{a},{a}\n" for a in SCORES)
    result = await import_csv("users", "external_id,account_id\n" + users)
    assert result.ok, result.errors
    responses = "".join(
        f"{a}-{i},{a},u-{a},{score},2025-03-{i + 1:02d}\n"
        for a, (_, scores) in SCORES.items()
        for i, score in enumerate(scores)
    )
    result = await import_csv(
        "responses", "response_id,account_id,user_id,score,answered_at\n" + responses
    )
    assert result.ok, result.errors


def expected_account(account: str, arr_threshold: float, nps_threshold: float) -> dict[str, Any]:
    arr_text, scores = SCORES[account]
    p = sum(s >= 9 for s in scores)
    d = sum(s <= 6 for s in scores)
    a = len(scores) - p - d
    nps = 100 * (p - d) / len(scores)
    interval = nps_interval(p, a, d)
    high_arr, high_nps = float(arr_text) >= arr_threshold, nps >= nps_threshold
    quadrant = {
        (True, False): "protect",
        (True, True): "advocate",
        (False, True): "grow",
        (False, False): "fix",
    }[high_arr, high_nps]
    return {
        "account_id": account,
        "name": f"Company {account}",
        "csm_email": None,
        "arr": float(arr_text),
        "responses": len(scores),
        "nps": round(nps, 2),
        "ci_low": None if interval.ci_low is None else round(interval.ci_low, 2),
        "ci_high": None if interval.ci_high is None else round(interval.ci_high, 2),
        "precision": interval.precision,
        "quadrant": quadrant,
    }


@pytest.mark.parametrize(
    ("query", "arr_threshold", "nps_threshold"),
    [
        ("", 50000.0, 0.0),  # the median of the six placed accounts' ARR
        ("?arr_threshold=60000&nps_threshold=14.29", 60000.0, 14.29),
    ],
)
async def test_each_account_gets_the_figures_of_its_own_answers(
    client: Any, query: str, arr_threshold: float, nps_threshold: float
) -> None:
    await scored_book()
    analyst = bearer(await token(Role.analyst))
    body = (await client.get("/api/v1/reports/quadrant" + query, headers=analyst)).json()
    assert body["arr_threshold"] == arr_threshold
    placed = ["c1", "c2", "c3", "c4", "c5", "c6"]
    want = [expected_account(a, arr_threshold, nps_threshold) for a in placed]
    # protect first, then by ARR, largest first (c1 and c2 tie on ARR)
    want.sort(key=lambda a: (a["quadrant"] != "protect", -a["arr"], a["account_id"]))
    got = sorted(
        body["accounts"], key=lambda a: (a["quadrant"] != "protect", -a["arr"], a["account_id"])
    )
    assert got == want
    assert [a["arr"] for a in body["accounts"]] == [a["arr"] for a in want]
    for name in ("protect", "advocate", "grow", "fix"):
        members = [a for a in want if a["quadrant"] == name]
        assert body["quadrants"][name] == {
            "accounts": len(members),
            "arr": sum(a["arr"] for a in members),
        }


async def test_no_answers_place_no_account(client: Any) -> None:
    await book()
    analyst = bearer(await token(Role.analyst))
    body = (await client.get("/api/v1/reports/quadrant", headers=analyst)).json()
    assert body["accounts"] == []
    assert body["arr_threshold"] == 0.0
    assert body["quadrants"]["protect"] == {"accounts": 0, "arr": 0}


@pytest.mark.parametrize(
    "value",
    [0.125, 0.375, 2.675, -2.675, 1.005, -0.005, 0.0049999, 14.285714285714286, 99.995, -100.0],
)
def test_rounding_many_at_once_matches_python_round(value: float) -> None:
    values = np.array([value, value / 3, value * 7 / 9, float("nan")])
    assert rounded(values) == [round(v, 2) for v in values[:3].tolist()] + [None]


def test_rounding_agrees_with_python_on_every_hundredth_and_its_neighbours() -> None:
    # every x.xx5 boundary from -100 to 100, and the floats either side of it
    halves = (2 * np.arange(-10000, 10000) + 1) / 200
    values = np.concatenate(
        [halves, np.nextafter(halves, np.inf), np.nextafter(halves, -np.inf), halves / 7]
    )
    assert rounded(values) == [round(v, 2) for v in values.tolist()]
