"""What a reply under a CTA's card says, for every action; user text is escaped, new owners
are @mentioned; and the App Home keeps within Slack's 100 blocks however long Today is."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.blocks import home_view, thread_blocks, thread_text
from feedback.ctas.records import CtaView
from feedback.outbox.messages import Person, ThreadEvent
from feedback.today.services import Counts, NewDetractor, Today

AT = datetime(2026, 12, 6, 14, 40, tzinfo=UTC)
SAM = Person("Sam", "USAM")
DANA = Person("Dana", None)


def event(action: str, note: str = "", actor: str = "Alex", **data: Any) -> ThreadEvent:
    return ThreadEvent(action, actor, "slack", note, data, AT, people={7: SAM, 9: DANA})


@pytest.mark.parametrize(
    ("happened", "says"),
    [
        (event("acknowledge"), "Acknowledged by Alex"),
        (
            event("snooze", "until 2026-12-12: waiting on their IT", until="2026-12-12T00:00:00"),
            "Snoozed until 12 Dec by Alex: waiting on their IT",
        ),
        (event("snooze", "7 days", until="2026-12-13T02:00:00"), "Snoozed until 13 Dec by Alex"),
        (event("reassign", owner=7), "Reassigned to <@USAM> by Alex"),
        (event("reassign", owner=9), "Reassigned to Dana by Alex"),
        (event("claim", owner=7, actor="sam@example.com"), "Claimed by Sam"),
        (
            event("assign", "…", actor="pool Scale", owner=7, rule="round_robin"),
            "Assigned to <@USAM> by the pool's rule (round robin)",
        ),
        (
            event(
                "escalate",
                "untouched for 720 working minutes: escalated to the pool's manager",
                actor="pool Scale",
                manager=9,
                untouched_minutes=720,
            ),
            "Escalated to Dana: untouched for 12 working hours",
        ),
        (
            event("close", "Resolved: export fixed", outcome="resolved"),
            "Closed by Alex: resolved — export fixed",
        ),
        (event("close", "No response", outcome="no_response"), "Closed by Alex: no response"),
        (
            event("close", "u1 changed their score from 0 to 10", actor="rule:detractor_risk"),
            "Closed by the detractor risk rule: u1 changed their score from 0 to 10",
        ),
        (
            event(
                "set_due", "due 2026-12-20 (was 2026-12-09)", due_on="2026-12-20", was="2026-12-09"
            ),
            "Due date changed to 20 Dec by Alex (was 9 Dec)",
        ),
        (
            event("note", "Called <!channel> & <@U1>"),
            "Note by Alex: Called &lt;!channel&gt; &amp; &lt;@U1&gt;",
        ),
        (event("reopen"), "Reopened by Alex"),
        (event("reopen", actor="snooze ended"), "Reopened: the snooze ended"),
    ],
)
def test_each_action_reads_as_a_sentence(happened: ThreadEvent, says: str) -> None:
    assert thread_text(happened) == says


def test_a_reply_carries_the_time_in_the_readers_zone() -> None:
    text, blocks = thread_blocks(event("acknowledge"))
    assert text == f"Acknowledged by Alex · <!date^{int(AT.timestamp())}^{{time}}|14:40 UTC>"
    assert blocks[0]["text"]["text"] == text


def test_a_worse_answer_quotes_its_comment_escaped() -> None:
    worse = event("answer", actor="jo@acme.test (admin)", score=1, from_score=5, comment="<b>bad")
    assert thread_text(worse) == (
        "New answer: 1/10 from jo@acme.test (admin) (the card showed 5/10)\n> &lt;b&gt;bad"
    )


def cta(n: int) -> CtaView:
    values: dict[str, Any] = {f.name: None for f in fields(CtaView)}
    values.update(
        id=n,
        type="risk",
        reason="Detractor answer",
        detail="",
        priority=2,
        account_id=n,
        owner_id=1,
        status="open",
        snooze_reason="",
        close_reason="",
        trigger={},
        version=1,
        account_external_id=f"a{n}",
        account_name=f"Account {n}",
        currency="USD",
        priority_label="high",
        due_on=date(2026, 12, 1),
    )
    return CtaView(**values)


def test_a_long_today_keeps_the_home_within_100_blocks() -> None:
    many = [cta(n) for n in range(60)]
    detractors = [
        NewDetractor(n, f"a{n}", f"Account {n}", f"p{n}", None, "admin", 2, "slow", AT)
        for n in range(60)
    ]
    today = Today(
        day=date(2026, 12, 6),
        since=AT,
        health_day=None,
        going_dark_days=60,
        counts=Counts(60, 60, 60, 0, 0, 0, 60),
        overdue=many,
        due_today=many,
        new_detractors=detractors,
        red_accounts=[],
        renewals=[],
        going_dark=[],
        unclaimed_pool=many,
    )
    view = home_view(today, "https://feedback.example")
    assert len(view["blocks"]) <= 100
    assert "52 more on the Today page" in json.dumps(view["blocks"])
