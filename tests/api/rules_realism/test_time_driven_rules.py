"""The time-driven CTA rules in real use: going dark only after a silence long for the
account itself, priorities from ARR and a near renewal, due dates spread by priority."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import Cta
from feedback.ctas.rule_settings import update_cta_rules
from feedback.ctas.rules import evaluate_rules
from feedback.health.models import HealthSnapshot
from tests.support.factories import book, import_csv

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)  # a Monday


async def only(rule: str) -> None:
    others = {"renewal_risk", "going_dark", "health_alert"} - {rule}
    await update_cta_rules({name: {"enabled": False} for name in others}, "test", "api")


async def answers(account: str, user: str, days_ago: list[int], score: int = 8) -> None:
    lines = "".join(
        f"{account}-{user}-{d},{account},{user},{score},{(NOW - timedelta(days=d)).isoformat()}\n"
        for d in days_ago
    )
    result = await import_csv(
        "responses", "response_id,account_id,user_id,score,answered_at\n" + lines
    )
    assert result.ok, result.errors


async def dark_ctas() -> dict[str, dict[str, object]]:
    rows = await Cta.select(Cta.account.external_id, Cta.priority, Cta.due_on, Cta.detail).where(
        Cta.type == "going_dark"
    )
    return {row["account.external_id"]: row for row in rows}


async def test_an_account_is_dark_only_when_silent_long_for_itself() -> None:
    await book()
    await only("going_dark")
    await Account.update({Account.created_at: NOW - timedelta(days=900)}).where(Account.id > 0)
    # a1 answers about monthly and went silent 70 days ago: dark
    await answers("a1", "u1", [70, 100, 130, 160, 190, 220])
    # a2 answers about every 100 days, last 70 days ago: not yet (twice its gap is 200 days)
    await answers("a2", "u3", [70, 170, 270])
    # b1 was never heard from (no answer, no user seen): nothing to go dark from
    assert await evaluate_rules(NOW) == 1
    found = await dark_ctas()
    assert set(found) == {"a1"}
    assert "usually an answer every 30 days" in str(found["a1"]["detail"])
    # 131 days later a2 is silent for 201 days: now it is dark
    later = NOW + timedelta(days=131)
    await evaluate_rules(later)
    assert set(await dark_ctas()) == {"a1", "a2"}


async def test_product_activity_keeps_an_account_out_of_the_dark() -> None:
    await book()
    await only("going_dark")
    await answers("a1", "u1", [300])
    await EndUser.update({EndUser.last_seen_at: NOW - timedelta(days=2)}).where(
        EndUser.external_id == "u2"
    )
    await answers("a2", "u3", [300])
    assert await evaluate_rules(NOW) == 1
    assert set(await dark_ctas()) == {"a2"}


async def test_dark_priority_follows_arr_and_renewal_and_sets_the_due_date() -> None:
    await book()
    await only("going_dark")
    # a1 is large ($120k) and renews in 20 days: urgent; a2 ($9k, renewal far): medium;
    # b1 pays nothing: low
    await Account.update({Account.renewal_date: (NOW + timedelta(days=20)).date()}).where(
        Account.external_id == "a1"
    )
    for account, user in (("a1", "u1"), ("a2", "u3"), ("b1", "u4")):
        await answers(account, user, [200])
    await evaluate_rules(NOW)
    found = await dark_ctas()
    assert {a: row["priority"] for a, row in found.items()} == {"a1": 1, "a2": 3, "b1": 4}
    assert {a: row["due_on"] for a, row in found.items()} == {
        "a1": date(2026, 12, 8),  # 1 working day
        "a2": date(2026, 12, 16),  # 7 working days
        "b1": date(2026, 12, 25),  # 14 working days
    }


async def test_a_renewal_at_risk_is_due_by_its_priority_and_never_after_the_renewal() -> None:
    await book()
    await only("renewal_risk")
    await Account.update({Account.renewal_date: (NOW + timedelta(days=2)).date()}).where(
        Account.external_id == "a1"
    )
    await Account.update({Account.renewal_date: (NOW + timedelta(days=75)).date()}).where(
        Account.external_id == "a2"
    )
    await answers("a1", "u1", [30], score=2)
    await answers("a2", "u3", [30], score=3)
    assert await evaluate_rules(NOW) == 2
    rows = await Cta.select(Cta.account.external_id, Cta.priority, Cta.due_on)
    found = {r["account.external_id"]: (r["priority"], r["due_on"]) for r in rows}
    # a1: urgent (2 days left, large), due the next working day; a2: $9k, 75 days: medium
    assert found == {"a1": (1, date(2026, 12, 8)), "a2": (3, date(2026, 12, 16))}


async def test_a_health_alert_is_high_in_the_red_medium_for_a_drop_low_when_free() -> None:
    await book()
    await only("health_alert")
    ids = {r["external_id"]: r["id"] for r in await Account.select(Account.id, Account.external_id)}
    today, week_ago = NOW.date(), NOW.date() - timedelta(days=7)
    snapshots = [
        ("a2", week_ago, 45.0, "yellow"),
        ("a2", today, 30.0, "red"),  # red, $9k: high
        ("b1", week_ago, 80.0, "green"),
        ("b1", today, 60.0, "yellow"),  # a drop, free: low
    ]
    for account, day, score, band in snapshots:
        await HealthSnapshot.insert(
            HealthSnapshot(account=ids[account], day=day, score=score, band=band)
        )
    assert await evaluate_rules(NOW) == 2
    rows = await Cta.select(Cta.account.external_id, Cta.priority, Cta.due_on)
    found = {r["account.external_id"]: (r["priority"], r["due_on"]) for r in rows}
    assert found == {"a2": (2, date(2026, 12, 10)), "b1": (4, date(2026, 12, 25))}
