"""The CTA state machine: acknowledge, snooze (for some days or to a date), close (with an
outcome), reassign, reopen (also a closed CTA), change the due date and add a note (Slack
buttons and modals, web forms, the Today page, the API), snoozes that end, and where a CTA's
Slack message is.

Every change is a compare-and-set on the status (and on the version when the caller shows
one): a double click, a Slack retry or a stale page changes nothing and says why. A change
writes, in one transaction, the CTA, its history and the outbox message that shows it.

Closing a CTA raised by an answer closes the loop with that person: it needs an outcome
(`CtaOutcome`), which the loop report (feedback/reports/loop.py) counts. The answer rules
closing a CTA because its answer's score changed (source `rule`) give none: nobody acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.ctas import queries
from feedback.ctas.history import record_event
from feedback.ctas.models import Cta, CtaOutcome, CtaStatus
from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.db import write_transaction
from feedback.db.errors import unique_violation
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.outbox.enqueue import enqueue_cta_message

SNOOZE_CHOICES = (1, 7, 30)
MAX_SNOOZE_DAYS = 365
MAX_DUE_DAYS = 3 * 365
ACTIONS = ("acknowledge", "snooze", "close", "reassign", "reopen", "set_due", "note")
OUTCOMES = tuple(outcome.value for outcome in CtaOutcome)
# how each outcome reads on a page, in a history note and in Slack
OUTCOME_LABELS = {
    CtaOutcome.contacted: "Contacted",
    CtaOutcome.resolved: "Resolved",
    CtaOutcome.no_response: "No response",
    CtaOutcome.not_actionable: "Not actionable",
    CtaOutcome.churned: "Churned",
}
assert set(OUTCOME_LABELS) == set(CtaOutcome)
MAX_NOTE = 2000

_NOT_CLOSED = (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed)
# which statuses each action may start from (compare-and-set: a double click is a no-op)
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "acknowledge": (CtaStatus.open, CtaStatus.snoozed),
    "snooze": _NOT_CLOSED,
    "close": _NOT_CLOSED,
    "reassign": _NOT_CLOSED,
    "reopen": (CtaStatus.snoozed, CtaStatus.acknowledged, CtaStatus.closed),
    "set_due": _NOT_CLOSED,
    "note": (*_NOT_CLOSED, CtaStatus.closed),
}
assert set(ALLOWED_FROM) == set(ACTIONS)


@dataclass(frozen=True)
class Change:
    """What an action did: whether it changed the CTA, the CTA now, a sentence why, and a
    key for that sentence (`outcome`: the action's name when it was done, else `stale`,
    `already_assigned` or `unchanged`) that pages pass in links instead of the text."""

    changed: bool
    cta: CtaView
    message: str
    outcome: str


def raised_by_answer(cta: CtaView) -> bool:
    """Whether an answer raised the CTA (closing it then needs an outcome)."""
    return cta.trigger.get("kind") == "response"


def _day(value: date | None) -> str:
    return "none" if value is None else value.isoformat()


@dataclass
class _Plan:
    """What an action writes: the columns, the status it moves to (None: unchanged), the
    history note and data, and extra compare-and-set conditions."""

    values: dict[Any, Any]
    to_status: str | None
    note: str
    data: dict[str, Any]


def _plan(
    action: str,
    now: datetime,
    note: str,
    *,
    snooze_days: int | None,
    snooze_until: date | None,
    owner_id: int | None,
    outcome: str | None,
    due_on: date | None,
) -> _Plan:
    """Check the action's own fields (those that need no database) and say what it writes."""
    today = now.astimezone(UTC).date()
    values: dict[Any, Any] = {}
    data: dict[str, Any] = {}
    to_status: str | None = None
    if action == "acknowledge":
        to_status = CtaStatus.acknowledged
        values[Cta.snoozed_until] = None
    elif action == "snooze":
        if snooze_days is not None and snooze_until is not None:
            raise InputError("snooze_until", "give a number of days or a date, not both")
        values[Cta.snooze_reason] = note
        if snooze_until is not None:
            if not today < snooze_until <= today + timedelta(days=MAX_SNOOZE_DAYS):
                raise InputError(
                    "snooze_until", f"a date after today and at most {MAX_SNOOZE_DAYS} days ahead"
                )
            if not note:
                raise InputError("reason", "say why it waits until then")
            until = datetime.combine(snooze_until, time.min, tzinfo=UTC)
            note = f"until {snooze_until.isoformat()}: {note}"
        else:
            if snooze_days is None or not 1 <= snooze_days <= MAX_SNOOZE_DAYS:
                raise InputError("snooze_days", f"1 to {MAX_SNOOZE_DAYS} days")
            until = now + timedelta(days=snooze_days)
            note = note or f"{snooze_days} days"
        to_status = CtaStatus.snoozed
        values[Cta.snoozed_until] = until
        data["until"] = until
    elif action == "close":
        if outcome is not None and outcome not in OUTCOMES:
            raise InputError("outcome", f"one of {', '.join(OUTCOMES)}")
        to_status = CtaStatus.closed
        values[Cta.close_reason] = note
        values[Cta.closed_at] = now
        values[Cta.snoozed_until] = None
        values[Cta.outcome] = outcome
        if outcome is not None:
            data["outcome"] = outcome
            label = OUTCOME_LABELS[CtaOutcome(outcome)]
            note = f"{label}: {note}" if note else label
    elif action == "reopen":
        to_status = CtaStatus.open
        values[Cta.snoozed_until] = None
        values[Cta.closed_at] = None
        values[Cta.outcome] = None
        values[Cta.close_reason] = ""
    elif action == "reassign":
        if owner_id is None:
            raise InputError("owner", "the CSM to assign to")
        values[Cta.owner] = owner_id
        data["owner"] = owner_id
    elif action == "set_due":
        if due_on is None:
            raise InputError("due_on", "the new due date, e.g. 2026-12-31")
        if not today <= due_on <= today + timedelta(days=MAX_DUE_DAYS):
            raise InputError("due_on", f"today or later, at most {MAX_DUE_DAYS} days ahead")
        values[Cta.due_on] = due_on
        data["due_on"] = due_on
    else:  # note
        if not note:
            raise InputError("reason", "write the note")
    if to_status is not None:
        values[Cta.status] = str(to_status)
    return _Plan(values, None if to_status is None else str(to_status), note, data)


async def change_cta(
    cta_id: int,
    action: str,
    *,
    actor: str,
    source: str,
    snooze_days: int | None = None,
    snooze_until: date | None = None,
    reason: str = "",
    owner_id: int | None = None,
    outcome: str | None = None,
    due_on: date | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Change:
    """Apply one action with compare-and-set on the status (and the version when given).
    A second click, a Slack retry or a stale page changes nothing and says why.

    - `snooze`: `snooze_days` (1 to 365), or `snooze_until` (a day after today, at most 365
      days ahead, until its start in UTC) with a `reason`;
    - `close`: `reason` (the note) and `outcome` (`CtaOutcome`); a CTA raised by an answer
      needs the outcome (except when the answer rules close it), any other needs one of them;
    - `reopen`: from acknowledged, snoozed or closed (the close's outcome and time go; its
      history keeps them);
    - `reassign`: `owner_id`, an active CSM;
    - `set_due`: `due_on`, today or later;
    - `note`: `reason` in the history only (the version moves so that cards refresh).
    """
    now = now or utcnow()
    if action not in ACTIONS:
        raise InputError("action", f"must be one of {', '.join(ACTIONS)}")
    note = reason.strip()[:MAX_NOTE]
    plan = _plan(
        action,
        now,
        note,
        snooze_days=snooze_days,
        snooze_until=snooze_until,
        owner_id=owner_id,
        outcome=outcome or None,
        due_on=due_on,
    )
    active = CSM.active == True  # noqa: E712
    if action == "reassign" and not await CSM.exists().where((CSM.id == owner_id) & active):
        raise InputError("owner", f"no active CSM with id {owner_id}")
    plan.values[Cta.version] = Cta.version + 1
    plan.values[Cta.updated_at] = now
    async with write_transaction():
        before = await load_cta(cta_id)
        if before is None:
            raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
        if action == "close" and not outcome:
            if raised_by_answer(before) and source != "rule":
                raise InputError(
                    "outcome",
                    "how did it end? An answer raised this CTA: choose one of "
                    + ", ".join(OUTCOMES),
                )
            if not note:
                raise InputError("reason", "a close reason is required (or choose an outcome)")
        condition = (Cta.id == cta_id) & Cta.status.is_in([str(s) for s in ALLOWED_FROM[action]])
        if expected_version is not None:
            condition &= Cta.version == expected_version
        if action == "reassign":
            condition &= Cta.owner.is_null() | (Cta.owner != owner_id)
        elif action == "set_due":
            condition &= Cta.due_on.is_null() | (Cta.due_on != due_on)
            plan.note = f"due {_day(due_on)} (was {_day(before.due_on)})"
            plan.data["was"] = before.due_on
        elif action == "reopen" and before.status == CtaStatus.closed:
            await _refuse_a_second_open_cta(before)
        try:
            updated = await Cta.update(plan.values).where(condition).returning(Cta.id)
        except Exception as exc:
            if action == "reopen" and unique_violation(exc):
                # a CTA of the same account, type and reason opened since the check above
                raise Conflict.for_field(
                    "cta", "another CTA opened for the same account and reason; act on that one"
                ) from exc
            raise
        if not updated:
            why_outcome, why = _why_unchanged(before, action, expected_version)
            return Change(False, before, why, why_outcome)
        await record_event(
            cta_id,
            actor,
            source,
            action,
            before.status,
            plan.to_status or before.status,
            now,
            note=plan.note,
            data=plan.data,
        )
        await enqueue_cta_message(cta_id, now)
        after = await load_cta(cta_id)
    assert after is not None
    return Change(True, after, f"{action} done", action)


async def _refuse_a_second_open_cta(cta: CtaView) -> None:
    """A closed CTA reopens only while no other CTA of its account, type and reason is open
    (one at a time: the partial unique index cta_one_open)."""
    other = await queries.OTHER_OPEN_CTA.first(cta.account_id, cta.type, cta.reason, cta.id)
    if other is not None:
        raise Conflict.for_field(
            "cta", f"CTA {other['id']} is open for the same account and reason; act on that one"
        )


def _why_unchanged(cta: CtaView, action: str, expected_version: int | None) -> tuple[str, str]:
    """(outcome, sentence) for an action that changed nothing."""
    if expected_version is not None and cta.version != expected_version:
        return "stale", "the CTA changed since this was shown; here is its current state"
    if action == "reassign" and cta.status != CtaStatus.closed:
        return "already_assigned", "already assigned to that CSM"
    if action == "set_due" and cta.status != CtaStatus.closed:
        return "unchanged", f"nothing to do: the CTA is due {_day(cta.due_on)} already"
    return "unchanged", f"nothing to do: the CTA is {cta.status}"


async def wake_snoozed(now: datetime | None = None) -> int:
    """Worker job: snoozes that ended reopen their CTA (and its message shows it)."""
    now = now or utcnow()
    due = await Cta.select(Cta.id).where(
        (Cta.status == CtaStatus.snoozed.value) & (Cta.snoozed_until <= now)
    )
    woken = 0
    for row in due:
        change = await change_cta(row["id"], "reopen", actor="snooze ended", source="rule", now=now)
        woken += change.changed
    return woken


async def show_in_message(cta_id: int, channel: str, ts: str | None) -> None:
    """The Slack message `ts` in `channel` shows the CTA from now on (later changes edit it)."""
    await queries.SET_MESSAGE.run(channel, ts, cta_id)
