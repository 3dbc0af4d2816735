"""`today_for`: what needs a CSM, a manager's team or everyone today, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

from feedback.kernel.principal import Role
from feedback.today.services import today_for
from tests.api.today.scenario import NOW, build, principal


async def test_a_csm_sees_their_overdue_and_due_ctas_most_urgent_then_largest_first() -> None:
    book = await build()
    today = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    assert [c.id for c in today.overdue] == [book.cta["a1_risk"], book.cta["a2_renewal"]]
    assert [c.id for c in today.due_today] == [book.cta["a1_onboarding"]]
    assert today.counts.overdue == 2
    assert today.counts.due_today == 1
    assert today.team is None


async def test_a_csm_sees_detractors_since_the_last_working_day_with_who_answered() -> None:
    book = await build()
    today = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    assert today.since == datetime(2026, 12, 4, tzinfo=UTC)
    [answer] = today.new_detractors
    assert (answer.account_external_id, answer.score) == ("a1", 3)
    assert answer.person == "Una Acme"
    assert answer.email == "u1@acme.test"
    assert answer.role == "admin"
    assert answer.comment == "Exports keep failing"
    assert today.counts.new_detractors == 1


async def test_red_accounts_are_those_into_red_then_the_largest_drops() -> None:
    book = await build()
    today = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    assert [(r.account_external_id, r.into_red, r.change) for r in today.red_accounts] == [
        ("a1", True, -20.0),
        ("a2", False, -20.0),
    ]
    assert today.counts.red_accounts == 2


async def test_renewals_in_90_days_carry_nps_and_health() -> None:
    book = await build()
    today = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    [renewal] = today.renewals
    assert renewal.account_external_id == "a1"
    assert renewal.days_left == 55
    # two detractors over the last year (the answer after the clock is not counted yet)
    assert (renewal.responses, renewal.nps) == (2, -100.0)
    assert (renewal.health_score, renewal.health_band) == (35.0, "red")


async def test_accounts_going_dark_follow_the_rule() -> None:
    book = await build()
    today = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    assert [(d.account_external_id, d.cta_id) for d in today.going_dark] == [("a3", None)]
    assert today.going_dark_days == 60


async def test_a_manager_sees_the_team_with_owner_counts_and_the_pool() -> None:
    book = await build()
    today = await today_for(principal(Role.manager, book.csm["boss"]), NOW)
    assert {c.id for c in today.overdue} == {book.cta["a1_risk"], book.cta["a2_renewal"]}
    assert [c.id for c in today.due_today] == [book.cta["a1_onboarding"], book.cta["b1_risk"]]
    assert {d.account_external_id for d in today.new_detractors} == {"a1", "b1"}
    assert [c.id for c in today.unclaimed_pool] == [book.cta["p1_pool"]]
    assert today.counts.unclaimed_pool == 1
    assert today.team is not None
    team = {m.name: (m.overdue, m.due_today, m.open) for m in today.team}
    assert team == {"Ann": (2, 1, 4), "Bob": (0, 1, 2), "Boss": (0, 0, 0)}
    assert today.team[0].name == "Ann"  # the most overdue first


async def test_a_manager_without_a_csm_link_and_an_admin_see_everyone() -> None:
    book = await build()
    for who in (principal(Role.manager), principal(Role.admin)):
        today = await today_for(who, NOW)
        assert [c.id for c in today.overdue] == [
            book.cta["c1_risk"],
            book.cta["a1_risk"],
            book.cta["a2_renewal"],
        ]
        assert today.counts.new_detractors == 3
        assert {r.account_external_id for r in today.red_accounts} == {"a1", "a2", "c1"}
        assert [r.account_external_id for r in today.renewals] == ["c1", "a1"]
        assert today.counts.unclaimed_pool == 1
        assert today.team is not None
        assert {m.name for m in today.team} == {"Ann", "Bob", "Carl"}


async def test_a_pooled_specialist_sees_the_unclaimed_items_of_their_pool() -> None:
    book = await build()
    dora = await today_for(principal(Role.csm, book.csm["dora"]), NOW)
    assert [c.id for c in dora.unclaimed_pool] == [book.cta["p1_pool"]]
    ann = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    assert ann.unclaimed_pool == []
    assert ann.counts.unclaimed_pool == 0


async def test_a_cta_reassigned_away_is_no_longer_the_account_csms() -> None:
    book = await build()
    ann = await today_for(principal(Role.csm, book.csm["ann"]), NOW)
    bob = await today_for(principal(Role.csm, book.csm["bob"]), NOW)
    assert book.cta["a2_bobs"] not in {c.id for c in ann.overdue + ann.due_today}
    assert bob.team is None
    assert [c.id for c in bob.due_today] == [book.cta["b1_risk"]]


async def test_an_empty_book_has_nothing_to_do() -> None:
    today = await today_for(principal(Role.admin), NOW)
    assert today.counts.overdue == today.counts.new_detractors == today.counts.going_dark == 0
    assert today.health_day is None
    assert today.as_dict()["counts"]["renewals_90d"] == 0
