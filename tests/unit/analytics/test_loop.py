"""analytics.loop: closure, time to close, outcomes and recovered detractors, by hand and with
hypothesis for the invariants."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.loop import LoopCase, loop_summary, recovered, share


def test_wilson_interval_of_a_share_matches_the_published_example() -> None:
    """Newcombe (1998, Statistics in Medicine 17:857-872), Table I: 81 of 263 gives
    0.2553 to 0.3662 by Wilson's score method."""
    result = share(81, 263)
    assert result.share == pytest.approx(81 / 263)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.2553, 0.3662), abs=5e-5)


def test_a_share_of_nothing_has_no_figure() -> None:
    assert share(0, 0) == share(0, 0, 0.9)
    assert share(0, 0).share is None and share(0, 0).ci_low is None


def test_a_share_refuses_more_than_its_total() -> None:
    with pytest.raises(ValueError, match="count <= total"):
        share(3, 2)


@pytest.mark.parametrize(
    ("score", "expected"), [(None, False), (0, False), (6, False), (7, True), (10, True)]
)
def test_a_next_answer_of_seven_or_more_is_a_recovery(score: int | None, expected: bool) -> None:
    assert recovered(score) is expected


def test_a_worked_group() -> None:
    cases = [
        LoopCase(account=1, closed=True, hours_to_close=2.0, outcome="resolved", next_score=9),
        LoopCase(account=1, closed=True, hours_to_close=10.0, outcome="contacted", next_score=7),
        LoopCase(account=2, closed=True, hours_to_close=30.0, outcome="contacted", next_score=3),
        LoopCase(account=3, closed=True, hours_to_close=4.0, outcome=None, next_score=None),
        # open: its (impossible) outcome and next answer are not counted
        LoopCase(account=4, closed=False, outcome="resolved", next_score=10),
    ]
    summary = loop_summary(cases)
    assert (summary.cases, summary.closed) == (5, 4)
    assert summary.closure.share == pytest.approx(0.8)
    assert summary.median_hours_to_close == pytest.approx(7.0)
    assert summary.outcomes == {"contacted": 2, "none": 1, "resolved": 1}
    assert (summary.followed_up, summary.recovered, summary.recovered_accounts) == (3, 2, 1)
    assert summary.recovery.share == pytest.approx(2 / 3)


def test_nothing_to_summarise() -> None:
    summary = loop_summary([])
    assert summary.cases == 0 and summary.closure.share is None
    assert summary.median_hours_to_close is None and summary.recovery.share is None
    assert summary.outcomes == {}


def test_a_negative_time_to_close_is_refused() -> None:
    with pytest.raises(ValueError, match="hours_to_close"):
        loop_summary([LoopCase(account=1, closed=True, hours_to_close=-1.0)])


CASES = st.lists(
    st.builds(
        LoopCase,
        account=st.integers(1, 6),
        closed=st.booleans(),
        hours_to_close=st.none() | st.floats(0, 10_000, allow_nan=False),
        outcome=st.none() | st.sampled_from(["contacted", "resolved", "churned"]),
        next_score=st.none() | st.integers(0, 10),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(cases=CASES, confidence=st.sampled_from([0.8, 0.95, 0.99]))
def test_the_summary_adds_up(cases: list[LoopCase], confidence: float) -> None:
    summary = loop_summary(cases, confidence)
    closed = [c for c in cases if c.closed]
    assert summary.cases == len(cases) and summary.closed == len(closed)
    assert sum(summary.outcomes.values()) == summary.closed
    assert summary.recovered <= summary.followed_up <= summary.closed
    assert summary.recovered_accounts <= summary.recovered
    for part in (summary.closure, summary.recovery):
        if part.total:
            assert part.ci_low is not None and part.ci_high is not None
            assert 0 <= part.ci_low <= part.share <= part.ci_high <= 1  # type: ignore[operator]
        else:
            assert part.share is None
    hours = [c.hours_to_close for c in closed if c.hours_to_close is not None]
    if hours:
        assert summary.median_hours_to_close == pytest.approx(statistics.median(hours))
        assert min(hours) <= summary.median_hours_to_close <= max(hours)  # type: ignore[operator]
    else:
        assert summary.median_hours_to_close is None


@settings(max_examples=200, deadline=None)
@given(cases=CASES)
def test_open_cases_change_only_the_counts_of_cases(cases: list[LoopCase]) -> None:
    """Adding open cases lowers closure and leaves every figure of the closed ones alone."""
    before = loop_summary(cases)
    after = loop_summary([*cases, LoopCase(account=9, closed=False, next_score=10)])
    assert after.cases == before.cases + 1 and after.closed == before.closed
    assert after.recovery == before.recovery and after.outcomes == before.outcomes
    assert after.median_hours_to_close == before.median_hours_to_close
    if before.closure.share is not None:
        assert after.closure.share is not None and after.closure.share <= before.closure.share
