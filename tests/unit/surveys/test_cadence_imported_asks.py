"""Someone the previous tool asked (an import's `asked_elsewhere_at`) waits a whole cadence
from then, whatever else their history says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.surveys.cadence import CadenceRules, UserHistory, decide

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_an_ask_by_the_previous_tool_delays_the_first_survey_by_a_cadence() -> None:
    rules = CadenceRules(cadence_days=90, first_survey_after_days=0)
    history = UserHistory(first_seen_at=NOW - 400 * DAY, asked_elsewhere_at=NOW - 10 * DAY)
    decision = decide(rules, history, NOW, "u", "s")
    assert not decision.show and decision.reason == "asked by the previous tool"
    assert decision.next_check_at == NOW + 80 * DAY
    assert decide(rules, history, NOW + 80 * DAY, "u", "s").show


def test_an_ask_by_the_previous_tool_long_ago_changes_nothing() -> None:
    rules = CadenceRules(cadence_days=90, first_survey_after_days=0)
    history = UserHistory(first_seen_at=NOW - 400 * DAY, asked_elsewhere_at=NOW - 91 * DAY)
    assert decide(rules, history, NOW, "u", "s").show


@settings(max_examples=300, deadline=None)
@given(
    cadence_days=st.integers(min_value=1, max_value=400),
    asked_days_ago=st.floats(min_value=0, max_value=800, allow_nan=False),
    first_seen_days_ago=st.floats(min_value=0, max_value=800, allow_nan=False),
    asks=st.integers(min_value=0, max_value=5),
    dismissed_days_ago=st.none() | st.floats(min_value=0, max_value=800, allow_nan=False),
    user=st.text(min_size=1, max_size=8),
)
def test_nobody_is_asked_within_a_cadence_of_the_previous_tools_ask(
    cadence_days: int,
    asked_days_ago: float,
    first_seen_days_ago: float,
    asks: int,
    dismissed_days_ago: float | None,
    user: str,
) -> None:
    rules = CadenceRules(cadence_days=cadence_days, first_survey_after_days=0)
    asked = NOW - timedelta(days=asked_days_ago)
    history = UserHistory(
        first_seen_at=NOW - timedelta(days=first_seen_days_ago),
        asks_in_cycle=asks,
        last_dismissed_at=None
        if dismissed_days_ago is None
        else NOW - timedelta(days=dismissed_days_ago),
        asked_elsewhere_at=asked,
    )
    decision = decide(rules, history, NOW, user, "s")
    again = asked + cadence_days * DAY
    if again > NOW:
        assert not decision.show
        assert decision.next_check_at is not None and decision.next_check_at >= again
    else:
        # the previous tool's ask no longer counts: the answer is the one without it
        without = UserHistory(
            first_seen_at=history.first_seen_at,
            asks_in_cycle=asks,
            last_dismissed_at=history.last_dismissed_at,
        )
        assert decision == decide(rules, without, NOW, user, "s")
