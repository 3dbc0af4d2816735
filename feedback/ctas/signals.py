"""Raising CTAs from signals: a rule (or a person) says an account needs attention.

A signal opens a CTA, or updates the one already open for the same account, type and
reason. It runs in the caller's transaction and writes there the CTA, its history and the
outbox message that shows the change: they commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from feedback.ctas import queries
from feedback.ctas.history import json_text, record_event, tell_webhooks_of
from feedback.ctas.models import CtaStatus
from feedback.ctas.rule_settings import cta_rules
from feedback.db import as_utc_datetime, is_sqlite
from feedback.kernel.clock import utcnow
from feedback.outbox.enqueue import enqueue_cta_message, enqueue_cta_messages
from feedback.pools.audience import pool_for_account, pools_for_accounts


@dataclass(frozen=True)
class Signal:
    account_id: int
    type: str
    reason: str
    detail: str
    priority: int
    due_on: date | None
    trigger: dict[str, Any]
    actor: str = "rule"


async def _owner_for(account_id: int) -> tuple[int | None, int | None]:
    """(owner, pool) of a new CTA: a pooled account's CTA is its pool's and unowned until a
    member claims it; otherwise the account's CSM while active, else the rules' default
    owner."""
    pool = await pool_for_account(account_id)
    if pool is not None:
        return None, pool.id
    row = await queries.ACCOUNT_OWNER.first(account_id)
    if row is not None and row["owner"] is not None and row["active"] in (True, 1):
        return row["owner"], None
    return (await cta_rules()).get("default_owner"), None


async def raise_signal(
    signal: Signal, now: datetime | None = None, earlier: Sequence[Signal] = ()
) -> tuple[int, str]:
    """Open a CTA for the signal, or update the one already open for the same account,
    type and reason. Runs in the caller's transaction. Returns (cta id, what happened):
    created, updated, unchanged, or snoozed (kept quiet until the snooze ends).

    `earlier` are signals for the same CTA that arrived just before this one (the answer rule
    runner handles a batch at once): each leaves its event in the CTA's history, the CTA
    shows the latest and the most urgent priority, and one message is queued for them all."""
    now = now or utcnow()
    priority = min([signal.priority, *(e.priority for e in earlier)])
    signal = replace(signal, priority=priority)
    owner, pool = await _owner_for(signal.account_id)
    inserted = await queries.INSERT_CTA.fetch(
        signal.type,
        signal.reason[:300],
        signal.detail,
        signal.priority,
        signal.account_id,
        owner,
        signal.due_on,
        json_text(signal.trigger),
        now,
        now,
    )
    if inserted:
        cta_id = inserted[0]["id"]
        if pool is not None:
            await queries.SET_POOL.run(pool, cta_id)
        first, *rest = [*earlier, signal]
        await _record_signal(cta_id, first, "created", None, now)
        for each in rest:
            await _record_signal(cta_id, each, "signal", CtaStatus.open, now)
        await enqueue_cta_message(cta_id, now)
        return cta_id, "created"
    existing = await queries.OPEN_CTA.first(signal.account_id, signal.type, signal.reason[:300])
    if existing is None:  # closed between the two statements: try once more
        return await raise_signal(signal, now, earlier)
    if (
        not earlier
        and existing["detail"] == signal.detail
        and existing["priority"] <= signal.priority
    ):
        return existing["id"], "unchanged"  # the same signal again (a periodic rule)
    snoozed_until = as_utc_datetime(existing["snoozed_until"])
    quiet = existing["status"] == CtaStatus.snoozed and snoozed_until and snoozed_until > now
    await queries.UPDATE_FROM_SIGNAL.run(
        signal.detail,
        json_text(signal.trigger),
        min(existing["priority"], signal.priority),
        now,
        existing["id"],
    )
    for each in [*earlier, signal]:
        await _record_signal(existing["id"], each, "signal", existing["status"], now)
    if quiet:
        return existing["id"], "snoozed"
    await enqueue_cta_message(existing["id"], now)
    return existing["id"], "updated"


async def _record_signal(
    cta_id: int, signal: Signal, action: str, status: str | None, now: datetime
) -> None:
    to_status = status if action == "signal" else CtaStatus.open
    await record_event(
        cta_id, signal.actor, "rule", action, status, to_status, now, signal.detail, signal.trigger
    )


# -- many CTAs at once (the answer rule runner on PostgreSQL): see queries.CREATE_CTAS


def _signal_arrays(groups: Sequence[Sequence[Signal]]) -> list[list[Any]]:
    """The arrays of the set-based statements: per group its latest signal, at the most
    urgent priority of the group."""
    latest = [group[-1] for group in groups]
    return [
        [s.account_id for s in latest],
        [s.type for s in latest],
        [s.reason[:300] for s in latest],
        [s.detail for s in latest],
        [min(e.priority for e in group) for group in groups],
        [s.due_on for s in latest],
        [json_text(s.trigger) for s in latest],
        [len(group) == 1 for group in groups],
    ]


async def raise_signal_groups(
    groups: Sequence[Sequence[Signal]], now: datetime | None = None
) -> None:
    """`raise_signal(group[-1], now, earlier=group[:-1])` for each group of signals for one
    CTA, in the caller's transaction; the groups sorted by (account, type, reason), each
    group's signals in the order they came. On PostgreSQL in four statements for them all."""
    now = now or utcnow()
    if is_sqlite():
        for group in groups:
            await raise_signal(group[-1], now, earlier=group[:-1])
        return
    default_owner = (await cta_rules()).get("default_owner")
    arrays = _signal_arrays(groups)
    index = {(s.account_id, s.type, s.reason[:300]): n for n, s in enumerate(g[-1] for g in groups)}
    events: list[tuple[int, Signal, str, str | None, str]] = []
    notify: list[int] = []
    placed: set[int] = set()
    pooled = await pools_for_accounts(s.account_id for s in (g[-1] for g in groups))
    pool_arrays = [list(pooled), [pool.id for pool in pooled.values()]]
    for row in await queries.CREATE_CTAS.fetch(default_owner, now, now, *arrays, *pool_arrays):
        n = index[(row["account"], row["type"], row["reason"])]
        placed.add(n)
        first, *rest = groups[n]
        events.append((row["id"], first, "created", None, CtaStatus.open))
        events.extend((row["id"], each, "signal", CtaStatus.open, CtaStatus.open) for each in rest)
        notify.append(row["id"])
    remaining = [n for n in range(len(groups)) if n not in placed]
    if remaining:
        rest_arrays = [[column[n] for n in remaining] for column in arrays]
        for row in await queries.UPDATE_CTAS.fetch(*rest_arrays, now):
            n = index[(row["account"], row["type"], row["reason"])]
            placed.add(n)
            if not row["changes"]:
                continue  # the same signal again
            status = row["status"]
            events.extend((row["id"], each, "signal", status, status) for each in groups[n])
            snoozed_until = as_utc_datetime(row["snoozed_until"])
            if not (status == CtaStatus.snoozed and snoozed_until and snoozed_until > now):
                notify.append(row["id"])
    if events:
        await queries.INSERT_EVENTS.run(
            now,
            [cta for cta, *_ in events],
            [signal.actor[:200] for _, signal, *_ in events],
            [action for _, _, action, _, _ in events],
            [None if before is None else str(before) for *_, before, _ in events],
            [str(after) for *_, after in events],
            [signal.detail for _, signal, *_ in events],
            [json_text(signal.trigger) for _, signal, *_ in events],
        )
        await tell_webhooks_of([(cta, action) for cta, _, action, _, _ in events], now)
    if notify:
        await enqueue_cta_messages(notify, now)
    # closed between the statements, or an account that is gone: the one-by-one way
    for n in range(len(groups)):
        if n not in placed:
            await raise_signal(groups[n][-1], now, earlier=groups[n][:-1])
