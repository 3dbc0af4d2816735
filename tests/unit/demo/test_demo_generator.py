"""The demo generator: the same rows for the same day, answers with fixed ids and content
whatever the day, the demo host's account owned by the demo CSM."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from feedback.demo import DEMO_CSM, DEMO_HOST_ACCOUNT, anniversary_on_or_after, generate

TODAY = date(2026, 12, 6)


def answers(today: date) -> dict[str, dict[str, str]]:
    _, rows = generate(today)["responses"]
    return {row.values["response_id"]: row.values for row in rows}


def test_the_same_day_gives_the_same_rows() -> None:
    first, second = generate(TODAY), generate(TODAY)
    for kind in first:
        assert [r.values for r in first[kind][1]] == [r.values for r in second[kind][1]]


def test_an_answer_keeps_its_id_and_content_on_a_later_day() -> None:
    now, later = answers(TODAY), answers(TODAY + timedelta(days=10))
    shared = set(now) & set(later)
    assert len(shared) > 0.9 * len(now)
    assert all(now[key] == later[key] for key in shared)
    new = [later[key] for key in set(later) - set(now)]
    assert new and all(a["answered_at"] >= TODAY.isoformat() for a in new)


def test_answers_stop_before_today_and_fill_the_last_year() -> None:
    moments = [datetime.fromisoformat(a["answered_at"]) for a in answers(TODAY).values()]
    assert max(moments).date() < TODAY
    assert min(moments).date() >= TODAY - timedelta(days=365)
    months = {(m.year, m.month) for m in moments}
    assert len(months) >= 12


def test_the_demo_host_account_is_the_demo_csms_and_free_accounts_have_none() -> None:
    _, accounts = generate(TODAY)["accounts"]
    by_id = {row.values["external_id"]: row.values for row in accounts}
    assert by_id[DEMO_HOST_ACCOUNT]["csm_email"] == DEMO_CSM
    assert all(a["csm_email"] == "" for a in by_id.values() if a["plan"] == "free")
    assert all(a["csm_email"] for a in by_id.values() if a["plan"] != "free")
    renewals = [date.fromisoformat(a["renewal_date"]) for a in by_id.values()]
    assert all(TODAY <= r < TODAY + timedelta(days=366) for r in renewals)


def test_an_anniversary_of_29_february_falls_on_the_28th() -> None:
    assert anniversary_on_or_after(date(2024, 2, 29), date(2026, 1, 1)) == date(2026, 2, 28)
    assert anniversary_on_or_after(date(2020, 6, 1), date(2026, 6, 1)) == date(2026, 6, 1)
    assert anniversary_on_or_after(date(2020, 6, 1), date(2026, 6, 2)) == date(2027, 6, 1)
