"""The daily health snapshot: components from SQL aggregates, bands, trends, idempotence."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.health.models import HealthSnapshot
from feedback.health.score_settings import update_health_settings
from feedback.health.snapshot import compute_snapshot, last_complete_day
from feedback.health.usage_metrics import push_metrics
from feedback.kernel.principal import Role
from feedback.worker import run_jobs_once
from tests.support.factories import bearer, book, import_csv, token
from tests.support.processes import feedback


async def answers(rows: list[tuple[str, str, int, datetime]]) -> None:
    text = "account_id,user_id,score,answered_at\n" + "".join(
        f"{a},{u},{s},{t.isoformat()}\n" for a, u, s, t in rows
    )
    result = await import_csv("responses", text)
    assert result.ok, result.errors


@pytest.fixture
async def scored_book() -> date:
    """a1: two promoters of two users, a2: one detractor of one user, b1: no answers.

    Returns the day every timestamp is anchored to, so a run that crosses midnight UTC
    still sees one clock."""
    await book()
    await Account.update({Account.created_at: datetime.now(UTC) - timedelta(days=400)}, force=True)
    now = datetime.now(UTC)
    await answers(
        [
            ("a1", "u1", 10, now - timedelta(days=3)),
            ("a1", "u2", 9, now - timedelta(days=120)),
            ("a2", "u3", 2, now - timedelta(days=5)),
        ]
    )
    return now.date()


async def snapshot_of(account: str, day: date) -> dict[str, Any]:
    return (
        await HealthSnapshot.select()
        .where((HealthSnapshot.account.external_id == account) & (HealthSnapshot.day == day))
        .output(load_json=True)
        .first()
    )


async def test_each_account_gets_components_a_score_and_a_band(scored_book: date) -> None:
    result = await compute_snapshot(scored_book)
    assert result.computed and result.accounts == 3
    a1, a2, b1 = [await snapshot_of(a, scored_book) for a in ("a1", "a2", "b1")]
    assert a1["components"] == {
        "nps": 100.0,
        "detractor_share": 100.0,
        "coverage": 100.0,
        "trend": 50.0,
    }
    # (35 x 100 + 20 x 100 + 15 x 100 + 10 x 50) / 80
    assert a1["score"] == 93.75 and a1["band"] == "green"
    assert a2["components"] == {"nps": 0.0, "detractor_share": 0.0, "coverage": 100.0}
    # (35 x 0 + 20 x 0 + 15 x 100) / 70
    assert a2["score"] == pytest.approx(21.43, abs=0.01) and a2["band"] == "red"
    assert b1["score"] is None and b1["band"] == "unknown" and b1["components"] == {}


async def test_pushed_metrics_become_percentile_components(scored_book: date) -> None:
    await push_metrics(
        [
            {"account_id": a, "metric": "logins", "day": scored_book.isoformat(), "value": v}
            for a, v in (("a1", 10), ("a2", 30), ("b1", 20))
        ]
    )
    await compute_snapshot(scored_book)
    b1 = await snapshot_of("b1", scored_book)
    assert b1["components"] == {"metric.logins": 50.0}
    assert b1["score"] == 50.0 and b1["band"] == "yellow"
    a2 = await snapshot_of("a2", scored_book)
    assert a2["components"]["metric.logins"] == pytest.approx(83.33)


async def test_rerunning_a_day_replaces_it_with_the_current_settings(scored_book: date) -> None:
    await compute_snapshot(scored_book)
    await update_health_settings({"weights": {"nps": 0, "detractor_share": 0, "trend": 0}})
    again = await compute_snapshot(scored_book)
    assert again.accounts == 3
    assert await HealthSnapshot.count() == 3
    assert (await snapshot_of("a2", scored_book))["score"] == 100.0  # coverage only


async def test_churned_accounts_drop_out_once_churn_takes_effect(scored_book: date) -> None:
    gone = datetime.combine(scored_book - timedelta(days=2), time(), UTC).isoformat()
    assert (await import_csv("churn", f"account_id,noticed_at,effective_at\nb1,{gone},{gone}\n")).ok
    assert (await compute_snapshot(scored_book)).accounts == 2
    assert (await compute_snapshot(scored_book - timedelta(days=3))).accounts == 3


async def test_the_worker_computes_the_last_complete_day_once(scored_book: date) -> None:
    assert (await run_jobs_once())["health_snapshot"] == 3
    assert (await run_jobs_once())["health_snapshot"] == 0
    assert await HealthSnapshot.count().where(HealthSnapshot.day == last_complete_day()) == 3


async def test_concurrent_workers_compute_a_day_once(scored_book: date) -> None:
    day = scored_book - timedelta(days=1)
    results = await asyncio.gather(*(compute_snapshot(day, replace=False) for _ in range(3)))
    assert sorted(r.computed for r in results) == [False, False, True]
    assert await HealthSnapshot.count() == 3


async def test_the_api_shows_bands_and_trends_against_7_and_30_days_ago(
    client: Any, scored_book: date
) -> None:
    for days_ago in (30, 7, 0):
        await compute_snapshot(scored_book - timedelta(days=days_ago))
    admin = bearer(await token(Role.admin))
    answer = await client.get("/api/v1/health", headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["day"] == scored_book.isoformat()
    assert body["summary"]["bands"] == {"green": 1, "yellow": 0, "red": 1, "unknown": 1}
    assert body["summary"]["mean_score"] == pytest.approx((93.75 + 21.43) / 2, abs=0.01)
    assert body["total"] == 3
    by_id = {a["account_id"]: a for a in body["accounts"]}
    assert [a["account_id"] for a in body["accounts"]] == ["a2", "a1", "b1"]
    # 30 days ago a2 had no answer yet (unknown), a week ago neither did it
    assert by_id["a2"]["trend_7d"] is None
    # a1 a week ago: only the 120-day-old promoter, and no users on record yet (they were
    # imported today), so nps and detractor_share alone: 100
    assert by_id["a1"]["trend_7d"] == -6.25
    ann = bearer(await token(Role.csm, "ann@example.com"))
    mine = (await client.get("/api/v1/health", headers=ann)).json()
    assert {a["account_id"] for a in mine["accounts"]} == {"a1", "a2"}
    team = (
        await client.get(
            "/api/v1/health?manager=boss@example.com&csm=bob@example.com", headers=admin
        )
    ).json()
    assert [a["account_id"] for a in team["accounts"]] == ["b1"]
    reds = (await client.get("/api/v1/health?band=red", headers=admin)).json()
    assert [a["account_id"] for a in reds["accounts"]] == ["a2"] and reds["total"] == 1
    assert reds["summary"]["accounts"] == 3
    page = (await client.get("/api/v1/health?limit=1&offset=1", headers=admin)).json()
    assert [a["account_id"] for a in page["accounts"]] == ["a1"]


async def test_history_and_roll_ups_for_drawing_trends(client: Any, scored_book: date) -> None:
    for days_ago in (2, 1, 0):
        await compute_snapshot(scored_book - timedelta(days=days_ago))
    admin = bearer(await token(Role.admin))
    history = (await client.get("/api/v1/health/accounts/a2", headers=admin)).json()
    assert [d["day"] for d in history["days"]] == [
        (scored_book - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]
    trend = (await client.get("/api/v1/health/trend?csm=ann@example.com", headers=admin)).json()
    assert [d["accounts"] for d in trend["days"]] == [2, 2, 2]
    ann = bearer(await token(Role.csm, "ann@example.com"))
    refused = await client.get("/api/v1/health/accounts/b1", headers=ann)
    assert refused.status_code == 403
    bad = await client.get("/api/v1/health?day=yesterday", headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "day"


def test_the_command_computes_a_day(database_url: str) -> None:
    result = feedback("health", "snapshot", "--day", "2026-01-05")
    assert result.returncode == 0, result.stderr
    assert "health snapshot 2026-01-05:" in result.stdout
    bad = feedback("health", "snapshot", "--day", "Jan 5")
    assert bad.returncode == 1 and "--day" in bad.stderr
