"""The CTA actions' own fields, checked before the database is read: each refusal names its
field, and each action says what it writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from feedback.ctas.actions import MAX_SNOOZE_DAYS, _plan
from feedback.ctas.models import Cta
from feedback.kernel.errors import InputError

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)


def plan(action: str, note: str = "", **fields: Any) -> Any:
    values = {
        "snooze_days": None,
        "snooze_until": None,
        "owner_id": None,
        "outcome": None,
        "due_on": None,
        **fields,
    }
    return _plan(action, NOW, note, **values)


@pytest.mark.parametrize(
    ("action", "note", "fields", "field"),
    [
        ("snooze", "", {}, "snooze_days"),
        ("snooze", "", {"snooze_days": 0}, "snooze_days"),
        ("snooze", "", {"snooze_days": MAX_SNOOZE_DAYS + 1}, "snooze_days"),
        ("snooze", "away", {"snooze_until": date(2026, 12, 6)}, "snooze_until"),
        ("snooze", "away", {"snooze_until": date(2027, 12, 7)}, "snooze_until"),
        ("snooze", "", {"snooze_until": date(2026, 12, 9)}, "reason"),
        ("snooze", "away", {"snooze_days": 3, "snooze_until": date(2026, 12, 9)}, "snooze_until"),
        ("close", "done", {"outcome": "fixed"}, "outcome"),
        ("reassign", "", {}, "owner"),
        ("set_due", "", {}, "due_on"),
        ("set_due", "", {"due_on": date(2026, 12, 5)}, "due_on"),
        ("set_due", "", {"due_on": date(2030, 1, 1)}, "due_on"),
        ("note", "", {}, "reason"),
    ],
)
def test_a_bad_field_is_refused_by_name(
    action: str, note: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as refused:
        plan(action, note, **fields)
    assert refused.value.field == field


def test_a_snooze_to_a_date_lasts_until_that_day_starts() -> None:
    snooze = plan("snooze", "on holiday", snooze_until=date(2026, 12, 21))
    assert snooze.values[Cta.snoozed_until] == datetime(2026, 12, 21, tzinfo=UTC)
    assert snooze.values[Cta.snooze_reason] == "on holiday"
    assert snooze.to_status == "snoozed"
    assert snooze.note == "until 2026-12-21: on holiday"


def test_a_snooze_for_days_counts_from_now() -> None:
    snooze = plan("snooze", snooze_days=7)
    assert snooze.values[Cta.snoozed_until] == datetime(2026, 12, 13, 15, 30, tzinfo=UTC)
    assert snooze.note == "7 days"


def test_a_close_keeps_its_outcome_and_its_note() -> None:
    close = plan("close", "called them", outcome="resolved")
    assert close.values[Cta.outcome] == "resolved"
    assert close.values[Cta.close_reason] == "called them"
    assert close.values[Cta.closed_at] == NOW
    assert close.note == "Resolved: called them" and close.data == {"outcome": "resolved"}
    assert plan("close", outcome="no_response").note == "No response"


def test_a_reopen_forgets_how_it_was_closed() -> None:
    reopen = plan("reopen")
    assert reopen.to_status == "open"
    assert reopen.values[Cta.outcome] is None and reopen.values[Cta.closed_at] is None
    assert reopen.values[Cta.close_reason] == ""


def test_a_note_and_a_new_due_date_leave_the_status_alone() -> None:
    assert plan("note", "left a voicemail").to_status is None
    due = plan("set_due", due_on=date(2026, 12, 6))
    assert due.to_status is None and due.values[Cta.due_on] == date(2026, 12, 6)
