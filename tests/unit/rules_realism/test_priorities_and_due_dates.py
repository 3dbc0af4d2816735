"""The time-driven rules' arithmetic: working days, due dates by priority, priorities from
ARR and a near renewal, an account's usual gap between answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from feedback.ctas.rule_settings import DEFAULT_RULES
from feedback.ctas.rules import (
    account_priority,
    add_working_days,
    dark_threshold_days,
    due_for,
    renewal_priority,
    usual_gap_days,
)

HIGH = 10_000_000  # $100,000 in cents, the detractor rule's default
SUNDAY = date(2026, 12, 6)
FRIDAY = date(2026, 12, 4)


def rules(**changes: Any) -> dict[str, Any]:
    merged = {name: dict(params) for name, params in DEFAULT_RULES.items()}
    for name, change in changes.items():
        merged[name].update(change)
    return merged


def test_one_working_day_after_a_sunday_is_monday() -> None:
    assert add_working_days(SUNDAY, 1) == date(2026, 12, 7)
    assert add_working_days(SUNDAY, 3) == date(2026, 12, 9)
    assert add_working_days(SUNDAY, 0) == date(2026, 12, 7)
    assert add_working_days(FRIDAY, 0) == FRIDAY


def test_one_working_day_after_a_friday_is_the_next_monday() -> None:
    assert add_working_days(FRIDAY, 1) == date(2026, 12, 7)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 60))
def test_working_days_land_on_a_weekday_with_that_many_weekdays_between(
    day: date, days: int
) -> None:
    due = add_working_days(day, days)
    assert due.weekday() < 5 and due >= day
    between = sum((day + timedelta(days=k)).weekday() < 5 for k in range(1, (due - day).days + 1))
    if days:
        assert between == days
    elif day.weekday() < 5:
        assert due == day
    else:
        assert due.weekday() == 0 and (due - day).days <= 2


def test_due_dates_spread_by_priority_in_working_days() -> None:
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)  # a Monday
    due = {p: due_for(p, rules(), rules()["going_dark"], now) for p in (1, 2, 3, 4)}
    assert due == {
        1: date(2026, 12, 8),
        2: date(2026, 12, 10),
        3: date(2026, 12, 16),
        4: date(2026, 12, 25),
    }


def test_without_due_by_priority_each_rule_keeps_its_own_due_days() -> None:
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    off = rules(due_by_priority={"enabled": False})
    assert due_for(1, off, off["going_dark"], now) == date(2026, 12, 14)  # 7 calendar days
    assert due_for(4, off, off["renewal_risk"], now) == date(2026, 12, 14)


def test_the_working_days_per_priority_follow_the_settings() -> None:
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    changed = rules(due_by_priority={"urgent_working_days": 0, "low_working_days": 5})
    assert due_for(1, changed, changed["health_alert"], now) == date(2026, 12, 7)
    assert due_for(4, changed, changed["health_alert"], now) == date(2026, 12, 14)


def test_a_large_account_renewing_soon_is_more_urgent_and_a_free_one_less() -> None:
    today = SUNDAY
    soon, later = today + timedelta(days=30), today + timedelta(days=200)
    assert account_priority(3, 5_000_000, later, today, HIGH) == 3
    assert account_priority(3, HIGH, later, today, HIGH) == 2
    assert account_priority(3, HIGH, soon, today, HIGH) == 1
    assert account_priority(3, 0, later, today, HIGH) == 4
    assert account_priority(3, None, None, today, HIGH) == 3
    # a renewal already past says nothing about urgency now
    assert account_priority(3, 5_000_000, today - timedelta(days=3), today, HIGH) == 3


@given(
    st.integers(1, 4),
    st.one_of(st.none(), st.integers(0, 10**10)),
    st.one_of(st.none(), st.integers(-400, 400)),
)
def test_priorities_stay_between_urgent_and_low(
    base: int, arr: int | None, renewal_in: int | None
) -> None:
    renewal = None if renewal_in is None else SUNDAY + timedelta(days=renewal_in)
    assert 1 <= account_priority(base, arr, renewal, SUNDAY, HIGH) <= 4
    if renewal_in is not None:
        assert 1 <= renewal_priority(renewal_in, arr, HIGH) <= 4


def test_a_renewal_is_urgent_within_30_days_high_within_60_medium_beyond() -> None:
    assert [renewal_priority(d, 5_000_000, HIGH) for d in (10, 30, 31, 60, 61, 90)] == [
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert renewal_priority(45, HIGH, HIGH) == 1  # large
    assert renewal_priority(80, 0, HIGH) == 4  # free


def test_the_usual_gap_is_the_median_gap_between_answer_days() -> None:
    day = datetime(2026, 1, 1, 10, tzinfo=UTC)
    answers = [day, day + timedelta(hours=3), day + timedelta(days=10), day + timedelta(days=40)]
    # days 0 (twice), 10, 40: gaps 10 and 30
    assert usual_gap_days(answers) == 20.0
    assert usual_gap_days([day]) is None
    assert usual_gap_days([day, day + timedelta(hours=1)]) is None


def test_an_account_heard_from_every_quarter_is_given_twice_that_before_it_is_dark() -> None:
    assert dark_threshold_days(60, 2, 90.0) == 180.0
    assert dark_threshold_days(60, 2, 10.0) == 60.0  # never less than the rule's days
    assert dark_threshold_days(60, 2, None) == 60.0
