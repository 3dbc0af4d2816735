"""GET /api/v1/reports/quadrant: ARR x NPS per account, named by the action to take."""

from __future__ import annotations

from typing import Any

from feedback.auth.models import Role
from tests.factories import bearer, book, import_csv, token


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
