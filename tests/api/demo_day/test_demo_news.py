"""The demo has news for Today: detractors since the last working day (issue 18)."""

from __future__ import annotations

from datetime import date

from feedback.demo import OWNERS, generate, news_since_the_last_working_day
from feedback.today.services import last_working_day


def test_each_dedicated_csm_gets_a_detractor_since_the_last_working_day() -> None:
    today = date(2026, 12, 7)  # a Monday: the news is Friday's
    _, rows = generate(today)["responses"]
    news = [r.values for r in rows if r.values["response_id"].startswith("demo-news-")]
    assert len(news) == len(OWNERS)
    for answer in news:
        assert answer["answered_at"].startswith("2026-12-04")
        assert int(answer["score"]) <= 6 and answer["comment"]
        assert answer["account_id"] != "acct-0001"  # the host page's account stays happy


def test_the_news_is_fixed_by_the_day() -> None:
    day = date(2026, 12, 9)
    assert last_working_day(day) == date(2026, 12, 8)
    first = generate(day)["responses"][1]
    again = generate(day)["responses"][1]
    assert [r.values for r in first] == [r.values for r in again]
    assert news_since_the_last_working_day(day, []) == []
