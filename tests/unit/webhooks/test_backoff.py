"""Retry timing: capped exponential backoff with jitter, and Retry-After within the cap."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from feedback.webhooks.delivery import backoff_seconds, judge, retry_after_seconds

attempts = st.integers(min_value=1, max_value=10_000)
jitters = st.floats(min_value=0.8, max_value=1.2)


@given(attempts, jitters)
def test_a_wait_is_never_under_the_base_nor_over_the_cap(n: int, jitter: float) -> None:
    delay = backoff_seconds(n, base=30, cap=3600, jitter=jitter)
    assert 24 <= delay <= 3600


@given(attempts)
def test_random_jitter_stays_within_a_fifth_of_the_doubling(n: int) -> None:
    plain = min(30 * 2 ** min(n - 1, 30), 10**12)
    delay = backoff_seconds(n, base=30, cap=3600)
    assert min(plain * 0.8, 3600) <= delay <= min(plain * 1.2, 3600)


@given(st.integers(min_value=1, max_value=60), jitters)
def test_waits_double_until_the_cap(n: int, jitter: float) -> None:
    now = backoff_seconds(n, jitter=jitter)
    after = backoff_seconds(n + 1, jitter=jitter)
    assert after == min(now * 2, 3600) or now == 3600


@given(attempts, jitters, st.floats(min_value=0, max_value=10**7))
def test_retry_after_is_honoured_within_the_cap(n: int, jitter: float, after: float) -> None:
    delay = backoff_seconds(n, base=30, cap=3600, retry_after=after, jitter=jitter)
    assert delay == min(max(after, backoff_seconds(n, jitter=jitter)), 3600)


def test_the_first_retries_come_after_30_seconds_then_a_minute() -> None:
    assert backoff_seconds(1, jitter=1.0) == 30
    assert backoff_seconds(2, jitter=1.0) == 60
    assert backoff_seconds(8, jitter=1.0) == 3600


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 12:05:00 GMT", now) == 300
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_answers_are_judged_by_status() -> None:
    assert judge(200, "").ok and judge(204, "").ok
    for status in (408, 429, 500, 502, 503, 504):
        outcome = judge(status, "busy")
        assert not outcome.ok and outcome.retry, status
    for status in (301, 302, 400, 401, 403, 404, 410, 422):
        outcome = judge(status, "no")
        assert not outcome.ok and not outcome.retry, status
    assert "redirects are not followed" in judge(302, "").error


def test_the_error_keeps_the_status_and_the_first_200_characters_on_one_line() -> None:
    outcome = judge(500, "line one\nline two " + "x" * 500)
    assert outcome.error.startswith("HTTP 500: line one line two x")
    assert len(outcome.error) <= len("HTTP 500: ") + 200
