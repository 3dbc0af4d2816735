"""New detractors are those since the last working day: Friday for a Monday."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from feedback.today.services import last_working_day


def test_monday_looks_back_to_friday() -> None:
    assert last_working_day(date(2026, 12, 7)) == date(2026, 12, 4)


def test_a_weekend_day_looks_back_to_friday() -> None:
    assert last_working_day(date(2026, 12, 5)) == date(2026, 12, 4)
    assert last_working_day(date(2026, 12, 6)) == date(2026, 12, 4)


def test_tuesday_looks_back_to_monday() -> None:
    assert last_working_day(date(2026, 12, 8)) == date(2026, 12, 7)


@given(st.dates(min_value=date(2000, 1, 10), max_value=date(2100, 1, 1)))
def test_it_is_the_nearest_weekday_before(day: date) -> None:
    before = last_working_day(day)
    assert before < day
    assert before.weekday() < 5
    # no weekday lies between it and the day
    assert all((before + timedelta(days=n)).weekday() >= 5 for n in range(1, (day - before).days))
