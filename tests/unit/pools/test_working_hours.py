"""Working minutes: Monday to Friday within the pool's hours, in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.kernel.errors import InputError
from feedback.pools.sla import Member, choose_member
from feedback.pools.working_hours import WorkingHours, working_minutes

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_working_day_has_eight_hours() -> None:
    assert working_minutes(MONDAY_9, MONDAY_9 + timedelta(days=1)) == 480


def test_nights_and_weekends_do_not_count() -> None:
    friday_16 = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    monday_10 = datetime(2026, 12, 14, 10, 0, tzinfo=UTC)
    assert working_minutes(friday_16, monday_10) == 120
    saturday = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)
    assert working_minutes(saturday, saturday + timedelta(hours=30)) == 0


def test_the_pools_time_zone_moves_the_window() -> None:
    tokyo = WorkingHours("Asia/Tokyo", 9, 17)  # 00:00 to 08:00 UTC
    assert working_minutes(MONDAY_9 - timedelta(hours=9), MONDAY_9, tokyo) == 480
    assert working_minutes(MONDAY_9, MONDAY_9 + timedelta(hours=8)) == 480


def test_nonsense_hours_name_the_setting() -> None:
    with pytest.raises(InputError) as zone:
        WorkingHours("Mars/Olympus", 9, 17).check()
    assert zone.value.field == "timezone"
    with pytest.raises(InputError) as end:
        WorkingHours("UTC", 17, 9).check()
    assert end.value.field == "workday_end_hour"


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    first=st.integers(0, 20_000),
    second=st.integers(0, 20_000),
)
def test_working_minutes_add_up_and_never_exceed_wall_minutes(
    start: datetime, first: int, second: int
) -> None:
    middle = start + timedelta(minutes=first)
    end = middle + timedelta(minutes=second)
    whole = working_minutes(start, end)
    assert whole == pytest.approx(working_minutes(start, middle) + working_minutes(middle, end))
    assert 0 <= whole <= first + second


def members() -> list[Member]:
    return [Member(1, "A", 3, 500), Member(2, "B", 1, 900), Member(3, "C", 1, 100)]


def test_round_robin_takes_turns_from_the_cursor() -> None:
    picked, cursor = [], 4
    for _ in range(3):
        member, cursor = choose_member("round_robin", members(), cursor)
        picked.append(member.csm)
    assert picked == [2, 3, 1]


def test_fewest_open_and_least_arr_pick_the_lightest_member() -> None:
    assert choose_member("fewest_open", members(), 0)[0].csm == 2  # tie with C: joined first
    assert choose_member("least_arr", members(), 0)[0].csm == 3
