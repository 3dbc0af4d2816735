"""The CTA actions against the database: the state machine against a model of it (hypothesis),
closing with an outcome, snoozing to a date, a new due date, notes, reopening a closed CTA,
and the API's answers to each (a 422 naming the field)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.accounts.models import CSM, Account
from feedback.ctas.actions import ALLOWED_FROM, change_cta
from feedback.ctas.models import Cta, CtaEvent
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.errors import Conflict, InputError
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
ANSWER = {"kind": "response", "response_id": 1, "score": 2, "comment": "slow", "user": "u1"}


async def account_id(external_id: str) -> int:
    row = await Account.select(Account.id).where(Account.external_id == external_id).first()
    return int(row["id"])


async def raise_cta(
    external_id: str = "a1", trigger: dict[str, Any] | None = None, reason: str = "Detractor"
) -> int:
    account = await account_id(external_id)
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(account, "risk", reason, "u1 answered 2", 2, TODAY, trigger or ANSWER),
            NOW,
        )
    return cta_id


async def row(cta_id: int) -> dict[str, Any]:
    return (
        await Cta.select(
            Cta.status, Cta.version, Cta.owner, Cta.due_on, Cta.outcome, Cta.close_reason
        )
        .where(Cta.id == cta_id)
        .first()
    )


async def notes(cta_id: int) -> list[tuple[str, str]]:
    events = await CtaEvent.select(CtaEvent.action, CtaEvent.note).where(CtaEvent.cta == cta_id)
    return [(e["action"], e["note"]) for e in sorted(events, key=lambda e: e["action"])]


# -- the state machine against a model -----------------------------------------------------


@dataclass
class Step:
    action: str
    outcome: str | None
    note: str
    days_ahead: int  # of snooze_until or due_on
    owner: int  # index of the CSM to reassign to
    version: str  # "current", "stale" or "none"


STEPS = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(list(ALLOWED_FROM)),
        outcome=st.none() | st.sampled_from(["resolved", "churned"]),
        note=st.sampled_from(["", "called"]),
        days_ahead=st.integers(-1, 3),
        owner=st.integers(0, 1),
        version=st.sampled_from(["current", "current", "stale", "none"]),
    ),
    max_size=10,
)


@dataclass
class Model:
    """What a CTA should be after each step, as the contract says."""

    status: str
    version: int
    owner: int | None
    due_on: date | None
    outcome: str | None


def refusal(step: Step, by_answer: bool) -> str | None:
    """The field a step must be refused for before anything changes, or None."""
    ahead = TODAY + timedelta(days=step.days_ahead)
    if step.action == "snooze":
        if step.days_ahead <= 0:
            return "snooze_until"
        return None if step.note else "reason"
    if step.action == "set_due":
        return "due_on" if ahead < TODAY else None
    if step.action == "note":
        return None if step.note else "reason"
    if step.action == "close" and step.outcome is None:
        return "outcome" if by_answer else (None if step.note else "reason")
    return None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, by_answer=st.booleans())
async def test_the_cta_state_machine_follows_its_model(steps: list[Step], by_answer: bool) -> None:
    """Whatever the sequence: a step is refused naming its field and changes nothing; a step
    from a status it may not start from, on a stale version, or that changes nothing (the
    same owner, the same due date) is a no-op; any other moves the status as the contract
    says, bumps the version by one and writes one history row; a close stores its outcome
    and a reopen clears it."""
    await Cta.delete(force=True)
    await CSM.delete(force=True)
    await import_csv("csms", "email,name\nx@example.com,X\ny@example.com,Y\n")
    await import_csv("accounts", "external_id,name,csm_email\nq1,Q,x@example.com\n")
    owners = [r["id"] for r in await CSM.select(CSM.id).order_by(CSM.id)]
    cta_id = await raise_cta("q1", ANSWER if by_answer else {"kind": "manual"})
    model = Model("open", 1, owners[0], TODAY, None)
    for step in steps:
        ahead = TODAY + timedelta(days=step.days_ahead)
        version = {"current": model.version, "stale": model.version - 1, "none": None}
        events = await CtaEvent.count()
        kwargs: dict[str, Any] = {
            "reason": step.note,
            "outcome": step.outcome if step.action == "close" else None,
            "owner_id": owners[step.owner] if step.action == "reassign" else None,
            "snooze_until": ahead if step.action == "snooze" else None,
            "due_on": ahead if step.action == "set_due" else None,
            "expected_version": version[step.version],
        }
        field = refusal(step, by_answer)
        if field is not None:
            with pytest.raises(InputError) as refused:
                await change_cta(cta_id, step.action, actor="t", source="api", now=NOW, **kwargs)
            assert refused.value.field == field
            assert await CtaEvent.count() == events
            continue
        change = await change_cta(cta_id, step.action, actor="t", source="api", now=NOW, **kwargs)
        expected = (
            model.status in ALLOWED_FROM[step.action]
            and step.version != "stale"
            and not (step.action == "reassign" and kwargs["owner_id"] == model.owner)
            and not (step.action == "set_due" and ahead == model.due_on)
        )
        assert change.changed is expected, (step, model)
        if expected:
            model.version += 1
            if step.action in ("acknowledge", "snooze", "close", "reopen"):
                model.status = {
                    "acknowledge": "acknowledged",
                    "snooze": "snoozed",
                    "close": "closed",
                    "reopen": "open",
                }[step.action]
            if step.action == "close":
                model.outcome = step.outcome
            if step.action == "reopen":
                model.outcome = None
            if step.action == "reassign":
                model.owner = kwargs["owner_id"]
            if step.action == "set_due":
                model.due_on = ahead
            assert await CtaEvent.count() == events + 1
        else:
            assert await CtaEvent.count() == events
        now = await row(cta_id)
        assert (now["status"], now["version"], now["owner"], now["due_on"], now["outcome"]) == (
            model.status,
            model.version,
            model.owner,
            model.due_on,
            model.outcome,
        )
        assert change.cta.version == model.version and change.cta.outcome == model.outcome


# -- one behaviour at a time ----------------------------------------------------------------


async def test_closing_a_cta_an_answer_raised_needs_an_outcome() -> None:
    await book()
    cta_id = await raise_cta()
    with pytest.raises(InputError) as refused:
        await change_cta(cta_id, "close", actor="ann", source="web", reason="called", now=NOW)
    assert refused.value.field == "outcome"
    change = await change_cta(
        cta_id, "close", actor="ann", source="web", outcome="contacted", now=NOW
    )
    assert change.changed and change.cta.outcome == "contacted"
    assert change.cta.close_reason == "" and change.cta.closed_at == NOW
    assert ("close", "Contacted") in await notes(cta_id)


async def test_another_cta_closes_with_a_note_or_an_outcome() -> None:
    await book()
    manual = await raise_cta(trigger={"kind": "manual"})
    with pytest.raises(InputError, match="close reason is required") as refused:
        await change_cta(manual, "close", actor="ann", source="web", now=NOW)
    assert refused.value.field == "reason"
    done = await change_cta(manual, "close", actor="ann", source="web", reason="done", now=NOW)
    assert done.changed and done.cta.outcome is None and done.cta.close_reason == "done"


async def test_the_answer_rules_close_without_an_outcome() -> None:
    """The rules withdraw a CTA whose answer's score changed: nobody closed a loop."""
    await book()
    cta_id = await raise_cta()
    change = await change_cta(
        cta_id, "close", actor="rule:detractor_risk", source="rule", reason="u1 changed", now=NOW
    )
    assert change.changed and change.cta.outcome is None


async def test_reopening_a_closed_cta_forgets_its_outcome_but_its_history_keeps_it() -> None:
    await book()
    cta_id = await raise_cta()
    await change_cta(
        cta_id, "close", actor="ann", source="web", outcome="resolved", reason="fixed", now=NOW
    )
    later = NOW + timedelta(days=3)
    change = await change_cta(cta_id, "reopen", actor="ann", source="web", now=later)
    assert change.changed
    assert (change.cta.status, change.cta.outcome, change.cta.closed_at) == ("open", None, None)
    assert change.cta.close_reason == ""
    assert ("close", "Resolved: fixed") in await notes(cta_id)


async def test_a_closed_cta_does_not_reopen_beside_a_newer_open_one() -> None:
    await book()
    first = await raise_cta()
    await change_cta(first, "close", actor="ann", source="web", outcome="resolved", now=NOW)
    second = await raise_cta()
    assert second != first
    with pytest.raises(Conflict, match=f"CTA {second} is open"):
        await change_cta(first, "reopen", actor="ann", source="web", now=NOW)
    assert (await row(first))["status"] == "closed"


async def test_a_new_due_date_and_a_note_are_in_the_history() -> None:
    await book()
    cta_id = await raise_cta()
    moved = await change_cta(
        cta_id, "set_due", actor="ann", source="web", due_on=date(2026, 12, 9), now=NOW
    )
    assert moved.changed and moved.cta.due_on == date(2026, 12, 9)
    again = await change_cta(
        cta_id, "set_due", actor="ann", source="web", due_on=date(2026, 12, 9), now=NOW
    )
    assert not again.changed and again.message == "nothing to do: the CTA is due 2026-12-09 already"
    noted = await change_cta(cta_id, "note", actor="ann", source="web", reason="voicemail", now=NOW)
    assert noted.changed and noted.cta.status == "open" and noted.cta.version == 3
    assert await notes(cta_id) == [
        ("created", "u1 answered 2"),
        ("note", "voicemail"),
        ("set_due", "due 2026-12-09 (was 2026-12-06)"),
    ]


async def test_a_snooze_to_a_date_keeps_its_reason() -> None:
    await book()
    cta_id = await raise_cta()
    change = await change_cta(
        cta_id,
        "snooze",
        actor="ann",
        source="web",
        snooze_until=date(2026, 12, 21),
        reason="their CFO is away",
        now=NOW,
    )
    assert change.cta.status == "snoozed"
    assert change.cta.snoozed_until == datetime(2026, 12, 21, tzinfo=UTC)
    assert change.cta.snooze_reason == "their CFO is away"


async def test_an_unowned_cta_can_be_assigned() -> None:
    await book()
    cta_id = await raise_cta()
    await Cta.update({Cta.owner: None}).where(Cta.id == cta_id)
    bob = await CSM.select(CSM.id).where(CSM.email == "bob@example.com").first()
    change = await change_cta(
        cta_id, "reassign", actor="boss", source="web", owner_id=bob["id"], now=NOW
    )
    assert change.changed and change.cta.owner_id == bob["id"]


# -- the API ----------------------------------------------------------------------------------


async def test_the_api_takes_the_new_actions_and_names_a_bad_field(
    client: httpx.AsyncClient,
) -> None:
    await book()
    cta_id = await raise_cta()
    ann = bearer(await token(Role.csm, "ann@example.com"))
    url = f"/api/v1/ctas/{cta_id}/actions"

    async def act(**body: Any) -> httpx.Response:
        return await client.post(url, json=body, headers=ann)

    today = datetime.now(UTC).date()
    refused = {
        "outcome": await act(action="close", reason="called them"),
        "snooze_until": await act(action="snooze", snooze_until=today.isoformat(), reason="x"),
        "due_on": await act(action="set_due", due_on=(today - timedelta(days=1)).isoformat()),
        "reason": await act(action="note", reason="  "),
    }
    for field, answer in refused.items():
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["detail"][0]["field"] == field

    until = (today + timedelta(days=14)).isoformat()
    snoozed = await act(action="snooze", snooze_until=until, reason="on leave")
    assert snoozed.status_code == 200 and snoozed.json()["cta"]["status"] == "snoozed"
    due = (today + timedelta(days=3)).isoformat()
    assert (await act(action="set_due", due_on=due)).json()["cta"]["due_on"] == due
    assert (await act(action="note", reason="left a voicemail")).json()["changed"] is True
    closed = await act(action="close", outcome="no_response", expected_version=4)
    assert closed.status_code == 200, closed.text
    assert closed.json()["cta"]["outcome"] == "no_response"
    reopened = await act(action="reopen", expected_version=5)
    assert reopened.json()["cta"]["status"] == "open"
    history = (await client.get(f"/api/v1/ctas/{cta_id}", headers=ann)).json()["history"]
    assert [h["action"] for h in history] == [
        "created",
        "snooze",
        "set_due",
        "note",
        "close",
        "reopen",
    ]
    assert history[4]["note"] == "No response"


async def test_another_csm_cannot_act_through_the_api(client: httpx.AsyncClient) -> None:
    await book()
    cta_id = await raise_cta()
    bob = bearer(await token(Role.csm, "bob@example.com"))
    answer = await client.post(
        f"/api/v1/ctas/{cta_id}/actions", json={"action": "note", "reason": "x"}, headers=bob
    )
    assert answer.status_code == 404
    assert await CtaEvent.count().where(CtaEvent.action == "note") == 0
