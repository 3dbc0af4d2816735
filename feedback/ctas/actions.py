"""The CTA state machine: acknowledge, snooze, close, reassign, reopen (Slack buttons, web
forms, the API), snoozes that end, and where a CTA's Slack message is.

Every change is a compare-and-set on the status (and on the version when the caller shows
one): a double click, a Slack retry or a stale page changes nothing and says why. A change
writes, in one transaction, the CTA, its history and the outbox message that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.ctas import queries
from feedback.ctas.history import record_event
from feedback.ctas.models import Cta, CtaStatus
from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError, NotFound
from feedback.outbox.enqueue import enqueue_cta_message

SNOOZE_CHOICES = (1, 7, 30)
ACTIONS = ("acknowledge", "snooze", "close", "reassign", "reopen")

# which statuses each action may start from (compare-and-set: a double click is a no-op)
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "acknowledge": (CtaStatus.open, CtaStatus.snoozed),
    "snooze": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "close": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "reassign": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "reopen": (CtaStatus.snoozed, CtaStatus.acknowledged),
}


@dataclass(frozen=True)
class Change:
    """What an action did: whether it changed the CTA, the CTA now, a sentence why, and a
    key for that sentence (`outcome`: the action's name when it was done, else `stale`,
    `already_assigned` or `unchanged`) that pages pass in links instead of the text."""

    changed: bool
    cta: CtaView
    message: str
    outcome: str


async def change_cta(
    cta_id: int,
    action: str,
    *,
    actor: str,
    source: str,
    snooze_days: int | None = None,
    reason: str = "",
    owner_id: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Change:
    """Apply one action with compare-and-set on the status (and the version when given).
    A second click, a Slack retry or a stale page changes nothing and says why."""
    now = now or utcnow()
    if action not in ACTIONS:
        raise InputError("action", f"must be one of {', '.join(ACTIONS)}")
    values: dict[Any, Any] = {Cta.version: Cta.version + 1, Cta.updated_at: now}
    to_status: str | None
    note = reason.strip()
    if action == "acknowledge":
        to_status = CtaStatus.acknowledged
        values[Cta.snoozed_until] = None
    elif action == "snooze":
        if snooze_days is None or not 1 <= snooze_days <= 365:
            raise InputError("snooze_days", "1 to 365 days")
        to_status = CtaStatus.snoozed
        values[Cta.snoozed_until] = now + timedelta(days=snooze_days)
        values[Cta.snooze_reason] = note
        note = note or f"{snooze_days} days"
    elif action == "close":
        if not note:
            raise InputError("reason", "a close reason is required")
        to_status = CtaStatus.closed
        values[Cta.close_reason] = note[:2000]
        values[Cta.closed_at] = now
        values[Cta.snoozed_until] = None
    elif action == "reopen":
        to_status = CtaStatus.open
        values[Cta.snoozed_until] = None
    else:  # reassign
        if owner_id is None:
            raise InputError("owner", "the CSM to assign to")
        if not await CSM.exists().where((CSM.id == owner_id) & (CSM.active == True)):  # noqa: E712
            raise InputError("owner", f"no active CSM with id {owner_id}")
        to_status = None
        values[Cta.owner] = owner_id
    if to_status is not None:
        values[Cta.status] = str(to_status)
    async with write_transaction():
        before = await load_cta(cta_id)
        if before is None:
            raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
        condition = (Cta.id == cta_id) & Cta.status.is_in([str(s) for s in ALLOWED_FROM[action]])
        if expected_version is not None:
            condition &= Cta.version == expected_version
        if action == "reassign":
            condition &= Cta.owner != owner_id
        updated = await Cta.update(values).where(condition).returning(Cta.id)
        if not updated:
            outcome, why = _why_unchanged(before, action, expected_version)
            return Change(False, before, why, outcome)
        await record_event(
            cta_id,
            actor,
            source,
            action,
            before.status,
            str(to_status) if to_status else before.status,
            now,
            note=note,
            data={"owner": owner_id} if owner_id else {},
        )
        await enqueue_cta_message(cta_id, now)
        after = await load_cta(cta_id)
    assert after is not None
    return Change(True, after, f"{action} done", action)


def _why_unchanged(cta: CtaView, action: str, expected_version: int | None) -> tuple[str, str]:
    """(outcome, sentence) for an action that changed nothing."""
    if expected_version is not None and cta.version != expected_version:
        return "stale", "the CTA changed since this was shown; here is its current state"
    if action == "reassign":
        return "already_assigned", "already assigned to that CSM"
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
