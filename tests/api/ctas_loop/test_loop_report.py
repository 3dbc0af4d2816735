"""The loop report: of the risk CTAs detractor answers raised, how many were closed and how
fast, how they ended, and whose account answered 7 or more the next time; per CSM, pool and
team, as JSON and CSV, with a CSM's scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from feedback.accounts.models import Account
from feedback.ctas.actions import change_cta
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def answer_trigger(score: int) -> dict[str, Any]:
    return {"kind": "response", "response_id": 1, "score": score, "user": "u1"}


async def raise_at(
    external_id: str,
    at: datetime,
    *,
    type_: str = "risk",
    reason: str = "Detractor answer",
    trigger: dict[str, Any] | None = None,
) -> int:
    account = await Account.select(Account.id).where(Account.external_id == external_id).first()
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(account["id"], type_, reason, "", 2, None, trigger or answer_trigger(2)), at
        )
    return cta_id


async def answers(*rows: tuple[str, int, datetime]) -> None:
    lines = ["account_id,user_id,score,answered_at"]
    lines += [f"{a},{a}-later,{score},{at.isoformat()}" for a, score, at in rows]
    result = await import_csv("responses", "\n".join(lines) + "\n")
    assert result.ok, result.errors


@pytest.fixture
async def loop_book() -> dict[str, int]:
    """Ann: two detractor CTAs closed (a1 resolved in 2 h, its account then answered 9; a2
    contacted in 10 h, then answered 3 and later 10). Bob: one open, one the rules withdrew.
    Not detractor CTAs: a manual risk CTA and an advocacy CTA."""
    await book()
    ids = {
        "a1": await raise_at("a1", T0),
        "a2": await raise_at("a2", T0),
        "b1": await raise_at("b1", T0),
        "withdrawn": await raise_at("b1", T0, reason="Another detractor"),
        "manual": await raise_at("a2", T0, reason="Call", trigger={"kind": "manual"}),
        "advocacy": await raise_at(
            "a1", T0, type_="advocacy", reason="Promoter", trigger=answer_trigger(10)
        ),
    }
    await change_cta(
        ids["a1"],
        "close",
        actor="ann",
        source="web",
        outcome="resolved",
        now=T0 + timedelta(hours=2),
    )
    await change_cta(
        ids["a2"],
        "close",
        actor="ann",
        source="web",
        outcome="contacted",
        now=T0 + timedelta(hours=10),
    )
    await change_cta(
        ids["withdrawn"], "close", actor="rule", source="rule", reason="changed", now=T0
    )
    for key in ("manual", "advocacy"):
        await change_cta(ids[key], "close", actor="ann", source="web", outcome="resolved", now=T0)
    await answers(
        ("a1", 10, T0 + timedelta(hours=1)),  # before the close: not a next answer
        ("a1", 9, T0 + timedelta(days=10)),
        ("a2", 3, T0 + timedelta(days=5)),
        ("a2", 10, T0 + timedelta(days=20)),  # not the next one
    )
    return ids


async def test_the_report_counts_closure_time_outcomes_and_recoveries(
    client: httpx.AsyncClient, loop_book: dict[str, int]
) -> None:
    admin = bearer(await token(Role.admin))
    report = (await client.get("/api/v1/reports/loop", headers=admin)).json()
    assert report["group_by"] == "csm" and report["withdrawn"] == 1
    total = report["total"]
    assert (total["cases"], total["closed"]) == (3, 2)
    assert total["closure"]["share"] == pytest.approx(2 / 3)
    assert total["closure"]["ci_low"] < 2 / 3 < total["closure"]["ci_high"]
    assert total["median_hours_to_close"] == pytest.approx(6.0)
    assert total["outcomes"] == {"contacted": 1, "resolved": 1}
    assert (total["followed_up"], total["recovered"], total["recovered_accounts"]) == (2, 1, 1)
    assert total["recovery"]["share"] == pytest.approx(0.5)
    groups = {g["label"]: g["summary"] for g in report["groups"]}
    assert set(groups) == {"Ann", "Bob"}
    assert (groups["Ann"]["cases"], groups["Ann"]["closed"], groups["Ann"]["recovered"]) == (
        2,
        2,
        1,
    )
    assert (groups["Bob"]["cases"], groups["Bob"]["closed"]) == (1, 0)
    assert groups["Bob"]["closure"]["share"] == 0 and groups["Bob"]["recovery"]["share"] is None


async def test_teams_and_pools_group_the_same_ctas(
    client: httpx.AsyncClient, loop_book: dict[str, int]
) -> None:
    admin = bearer(await token(Role.admin))
    team = (await client.get("/api/v1/reports/loop?group=team", headers=admin)).json()
    assert [(g["label"], g["summary"]["cases"]) for g in team["groups"]] == [("Team of Boss", 3)]
    pool = (await client.get("/api/v1/reports/loop?group=pool", headers=admin)).json()
    assert [(g["key"], g["summary"]["cases"]) for g in pool["groups"]] == [(None, 3)]


async def test_a_csm_sees_their_own_ctas(
    client: httpx.AsyncClient, loop_book: dict[str, int]
) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    report = (await client.get("/api/v1/reports/loop", headers=bob)).json()
    assert [g["label"] for g in report["groups"]] == ["Bob"]
    assert report["total"]["cases"] == 1


async def test_the_period_is_when_the_cta_was_raised(
    client: httpx.AsyncClient, loop_book: dict[str, int]
) -> None:
    admin = bearer(await token(Role.admin))
    after = (T0 + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    later = await client.get("/api/v1/reports/loop", params={"from": after}, headers=admin)
    assert later.json()["total"]["cases"] == 0 and later.json()["groups"] == []
    during = await client.get(
        "/api/v1/reports/loop", params={"from": "2026-10-01T00:00:00Z"}, headers=admin
    )
    assert during.json()["total"]["cases"] == 3


async def test_the_csv_has_a_row_per_group_and_one_for_all(
    client: httpx.AsyncClient, loop_book: dict[str, int]
) -> None:
    admin = bearer(await token(Role.admin))
    answer = await client.get("/api/v1/reports/loop?format=csv", headers=admin)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["group"] for r in rows] == ["Ann", "Bob", "All"]
    ann = rows[0]
    assert (ann["ctas"], ann["closed"], ann["outcome_resolved"], ann["recovered"]) == (
        "2",
        "2",
        "1",
        "1",
    )
    assert rows[1]["recovery_rate"] == ""  # nothing to divide


@pytest.mark.parametrize(
    ("query", "field"), [("group=account", "group"), ("confidence=1.5", "confidence")]
)
async def test_a_bad_parameter_is_named(client: httpx.AsyncClient, query: str, field: str) -> None:
    admin = bearer(await token(Role.admin))
    answer = await client.get(f"/api/v1/reports/loop?{query}", headers=admin)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == field
