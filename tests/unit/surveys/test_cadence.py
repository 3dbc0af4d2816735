"""The cadence rules, as pure functions: unit examples and properties over call sequences."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.surveys.cadence import (
    CadenceRules,
    UserHistory,
    cycle_at,
    decide,
    is_sampled,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_new_user_waits_until_the_first_survey_delay_has_passed() -> None:
    rules = CadenceRules(first_survey_after_days=14)
    decision = decide(rules, UserHistory(first_seen_at=NOW - 3 * DAY), NOW, "u", "s")
    assert not decision.show and decision.next_check_at == NOW + 11 * DAY
    later = decide(rules, UserHistory(first_seen_at=NOW - 15 * DAY), NOW, "u", "s")
    assert later.show


def test_someone_who_answered_is_not_asked_again_within_the_cadence() -> None:
    rules = CadenceRules()
    history = UserHistory(first_seen_at=NOW - 400 * DAY, last_answered_at=NOW - 30 * DAY)
    decision = decide(rules, history, NOW, "u", "s")
    assert not decision.show and decision.next_check_at is not None
    assert decision.next_check_at >= NOW - 30 * DAY + 90 * DAY


def test_a_dismissal_backs_off_for_the_configured_days() -> None:
    rules = CadenceRules(dismiss_backoff_days=30, min_days_between_surveys=7)
    history = UserHistory(
        first_seen_at=NOW - 400 * DAY,
        asks_in_cycle=1,
        last_dismissed_at=NOW - 10 * DAY,
        last_display_at=NOW - 10 * DAY,
    )
    decision = decide(rules, history, NOW, "u", "s")
    assert not decision.show and decision.next_check_at == NOW + 20 * DAY
    assert decision.reason == "dismissed recently"


def test_the_asks_per_cycle_are_capped() -> None:
    rules = CadenceRules(max_asks_per_cycle=3, dismiss_backoff_days=0, min_days_between_surveys=0)
    history = UserHistory(first_seen_at=NOW - 400 * DAY, asks_in_cycle=3)
    decision = decide(rules, history, NOW, "u", "s")
    assert not decision.show
    assert decision.next_check_at == cycle_at(NOW, "u", "s", 90).ends_at


def test_an_ended_schedule_never_shows_and_asks_for_no_check() -> None:
    rules = CadenceRules(ends_at=NOW - DAY)
    decision = decide(rules, UserHistory(first_seen_at=NOW - 400 * DAY), NOW, "u", "s")
    assert not decision.show and decision.next_check_at is None


def test_a_schedule_that_has_not_started_says_when_it_starts() -> None:
    rules = CadenceRules(starts_at=NOW + 5 * DAY)
    decision = decide(rules, UserHistory(first_seen_at=NOW - 400 * DAY), NOW, "u", "s")
    assert decision.next_check_at == NOW + 5 * DAY


def test_cycles_tile_time_without_gaps() -> None:
    cycle = cycle_at(NOW, "user-1", "7", 90)
    assert cycle.starts_at <= NOW < cycle.ends_at
    following = cycle_at(cycle.ends_at, "user-1", "7", 90)
    assert following.index == cycle.index + 1 and following.starts_at == cycle.ends_at


def test_cycle_starts_spread_evenly_over_the_quarter() -> None:
    buckets = Counter(
        (cycle_at(NOW, f"user-{n}", "7", 90).starts_at - NOW).days % 90 // 10 for n in range(9000)
    )
    # nine 10-day buckets of about 1,000 each; a first-day pile-up would break this at once
    assert len(buckets) == 9
    assert all(850 <= count <= 1150 for count in buckets.values()), buckets


def test_sampling_selects_about_the_configured_share_and_is_stable() -> None:
    chosen = [is_sampled(f"user-{n}", "7", 3, 25.0) for n in range(8000)]
    assert 0.23 < sum(chosen) / len(chosen) < 0.27
    assert chosen == [is_sampled(f"user-{n}", "7", 3, 25.0) for n in range(8000)]


def test_sampling_at_the_extremes_is_all_or_nothing() -> None:
    assert all(is_sampled(f"u{n}", "s", 1, 100) for n in range(500))
    assert not any(is_sampled(f"u{n}", "s", 1, 0) for n in range(500))


@st.composite
def visits(draw: st.DrawFn) -> list[tuple[float, str]]:
    """Page views (days after the first one) and what the user does if shown a survey."""
    count = draw(st.integers(min_value=1, max_value=80))
    gaps = draw(
        st.lists(
            st.floats(min_value=0, max_value=20, allow_nan=False), min_size=count, max_size=count
        )
    )
    actions = draw(
        st.lists(st.sampled_from(["answer", "dismiss", "ignore"]), min_size=count, max_size=count)
    )
    moments, t = [], 0.0
    for gap in gaps:
        t += gap
        moments.append(t)
    return list(zip(moments, actions, strict=True))


rules_strategy = st.builds(
    CadenceRules,
    cadence_days=st.integers(min_value=7, max_value=120),
    first_survey_after_days=st.integers(min_value=0, max_value=30),
    dismiss_backoff_days=st.integers(min_value=0, max_value=60),
    max_asks_per_cycle=st.integers(min_value=1, max_value=5),
    sample_percent=st.sampled_from([0.0, 30.0, 100.0]),
    min_days_between_surveys=st.integers(min_value=0, max_value=14),
)


@settings(max_examples=300, deadline=None)
@given(rules=rules_strategy, sequence=visits(), user=st.text(min_size=1, max_size=8))
def test_no_sequence_of_visits_breaks_the_rules(
    rules: CadenceRules, sequence: list[tuple[float, str]], user: str
) -> None:
    start = NOW
    shown: list[tuple[datetime, int]] = []  # (when, cycle)
    answered: list[datetime] = []
    dismissed: list[datetime] = []
    per_cycle: Counter[int] = Counter()
    answered_cycles: set[int] = set()
    for offset_days, action in sequence:
        now = start + timedelta(days=offset_days)
        cycle = cycle_at(now, user, "s", rules.cadence_days)
        history = UserHistory(
            first_seen_at=start,
            asks_in_cycle=per_cycle[cycle.index],
            answered_in_cycle=cycle.index in answered_cycles,
            last_answered_at=max(answered, default=None),
            last_dismissed_at=max(dismissed, default=None),
            last_display_at=max((s for s, _ in shown), default=None),
        )
        decision = decide(rules, history, now, user, "s")
        if not decision.show:
            assert decision.next_check_at is None or decision.next_check_at > now
            continue
        # what a display must never break
        assert now >= start + timedelta(days=rules.first_survey_after_days)
        if shown:
            assert now - shown[-1][0] >= timedelta(days=rules.min_days_between_surveys)
        if dismissed:
            assert now - dismissed[-1] >= timedelta(days=rules.dismiss_backoff_days)
        if answered:
            assert now - answered[-1] >= timedelta(days=rules.cadence_days)
        assert per_cycle[cycle.index] < rules.max_asks_per_cycle
        assert cycle.index not in answered_cycles
        assert rules.sample_percent > 0
        shown.append((now, cycle.index))
        per_cycle[cycle.index] += 1
        if action == "answer":
            answered.append(now)
            answered_cycles.add(cycle.index)
        elif action == "dismiss":
            dismissed.append(now)


# one check: the rules, when (days after NOW), who, and how often asked this cycle already
one_check = {
    "rules": rules_strategy,
    "days": st.floats(min_value=0, max_value=400, allow_nan=False),
    "user": st.text(min_size=1, max_size=8),
    "asks": st.integers(min_value=0, max_value=6),
}


@settings(max_examples=200, deadline=None)
@given(**one_check)
def test_nothing_changes_before_the_next_check(
    rules: CadenceRules, days: float, user: str, asks: int
) -> None:
    """The widget stays quiet until next_check_at: asking earlier must give the same answer."""
    history = UserHistory(first_seen_at=NOW, asks_in_cycle=asks)
    now = NOW + timedelta(days=days)
    decision = decide(rules, history, now, user, "s")
    if decision.show or decision.next_check_at is None:
        return
    just_before = decision.next_check_at - timedelta(seconds=1)
    cycle = cycle_at(just_before, user, "s", rules.cadence_days)
    same_cycle = cycle.index == decision.cycle.index
    again = decide(
        rules, history if same_cycle else UserHistory(first_seen_at=NOW), just_before, user, "s"
    )
    assert not again.show


@given(**one_check)
def test_a_cycle_given_by_the_caller_decides_as_the_one_decide_would_compute(
    rules: CadenceRules, days: float, user: str, asks: int
) -> None:
    now = NOW + days * DAY
    history = UserHistory(first_seen_at=NOW - 20 * DAY, asks_in_cycle=asks)
    cycle = cycle_at(now, user, "s", rules.cadence_days)
    assert decide(rules, history, now, user, "s", cycle) == decide(rules, history, now, user, "s")
