"""The outbox as admins see it (queued, dead, unrouted, with the message it carries), and
the daily digest that the worker enqueues for each CSM."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.auth.models import Role
from feedback.auth.services import Principal, audit
from feedback.ctas.models import Outbox, OutboxStatus
from feedback.ctas.services import (
    _notify_delivery,
    cta_rules,
    cta_types,
    list_ctas,
    load_cta,
    route,
)
from feedback.db import as_utc_datetime, write_transaction
from feedback.errors import InputError
from feedback.kernel.clock import utcnow
from feedback.settings import get_settings

STATUSES = tuple(s.value for s in OutboxStatus)


async def render(row: dict[str, Any]) -> dict[str, Any]:
    """The text and blocks this row sends (CTAs are rendered as they are now)."""
    from bot.blocks import cta_blocks

    if row["kind"] != "cta":
        payload = row["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload or {}
        return {"text": payload.get("text", ""), "blocks": payload.get("blocks", [])}
    cta = await load_cta(row["cta"]) if row["cta"] else None
    if cta is None:
        return {"text": "", "blocks": []}
    types = await cta_types()
    text, blocks = cta_blocks(cta, get_settings().public_url, types.get(cta["type"], "CTA"))
    return {"text": text, "blocks": blocks}


async def list_messages(status: str | None, limit: int = 100) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InputError("status", f"one of {', '.join(STATUSES)}")
    query = Outbox.select(
        Outbox.id,
        Outbox.key,
        Outbox.kind,
        Outbox.cta,
        Outbox.channel,
        Outbox.payload,
        Outbox.status,
        Outbox.attempts,
        Outbox.next_attempt_at,
        Outbox.last_error,
        Outbox.slack_ts,
        Outbox.created_at,
        Outbox.sent_at,
    )
    if status is not None:
        query = query.where(Outbox.status == status)
    else:
        query = query.where(Outbox.status != OutboxStatus.sent.value)
    rows = await query.order_by(Outbox.id, ascending=False).limit(limit)
    out = []
    for row in rows:
        preview = await render(row)
        row.pop("payload")
        for name in ("next_attempt_at", "created_at", "sent_at"):
            row[name] = as_utc_datetime(row[name])
        out.append({**row, "preview": preview})
    return out


async def outbox_summary() -> dict[str, Any]:
    rows = await Outbox.raw(
        "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY status"
    )
    return {
        row["status"]: {"count": int(row["n"]), "oldest": as_utc_datetime(row["oldest"])}
        for row in rows
    }


async def retry(message_id: int, actor: str) -> dict[str, Any]:
    """A dead or unrouted message goes back to the queue (routed again: the owner may have
    a channel by now)."""
    row = (
        await Outbox.select(Outbox.id, Outbox.status, Outbox.cta, Outbox.channel)
        .where(Outbox.id == message_id)
        .first()
    )
    if row is None:
        raise InputError("message", f"no outbox message {message_id}", status_code=404)
    if row["status"] not in (OutboxStatus.dead.value, OutboxStatus.unrouted.value):
        raise InputError(
            "message",
            f"only dead or unrouted messages, this one is {row['status']}",
            status_code=409,
        )
    channel = row["channel"]
    if row["cta"] is not None:
        cta = await load_cta(row["cta"])
        if cta is not None:
            owner = (
                await CSM.select(CSM.slack_channel, CSM.slack_user_id)
                .where(CSM.id == cta["owner_id"])
                .first()
                if cta["owner_id"]
                else None
            )
            channel = route(owner and owner["slack_channel"], owner and owner["slack_user_id"])
    if channel is None:
        raise InputError(
            "message",
            "still nowhere to send it: set the owner's Slack channel "
            "or FEEDBACK_SLACK_DEFAULT_CHANNEL",
            status_code=409,
        )
    async with write_transaction():
        await Outbox.update(
            {
                Outbox.status: OutboxStatus.pending.value,
                Outbox.channel: channel,
                Outbox.attempts: 0,
                Outbox.next_attempt_at: utcnow(),
                Outbox.claimed_until: None,
                Outbox.claimed_by: None,
            }
        ).where(Outbox.id == message_id)
        await audit(actor, "api", "outbox.retry", str(message_id), {"channel": channel})
    _notify_delivery()
    return {"id": message_id, "status": OutboxStatus.pending.value, "channel": channel}


# -- the daily digest -------------------------------------------------------------------------

_RED_SQL = """
SELECT a.name AS account_name, h.score, h.band
FROM health_snapshot h JOIN account a ON a.id = h.account
WHERE a.csm = {} AND h.band = 'red' AND h.day = (SELECT MAX(day) FROM health_snapshot)
ORDER BY h.score LIMIT 15
"""

_DETRACTORS_SQL = """
SELECT a.name AS account_name, r.score, r.comment
FROM response r JOIN account a ON a.id = r.account
WHERE a.csm = {} AND r.score <= 6 AND r.answered_at >= {} AND r.answered_at < {}
ORDER BY r.answered_at DESC LIMIT 15
"""


async def enqueue_digests(now: datetime | None = None) -> int:
    """Worker job: once a day (from the configured hour), one digest per CSM who has open
    CTAs or new detractors. The key `digest:CSM:DAY` makes it once, whichever worker runs."""
    from bot.blocks import digest_blocks

    now = now or utcnow()
    rule = (await cta_rules())["daily_digest"]
    if not rule["enabled"] or now.hour < rule["hour_utc"]:
        return 0
    day = now.date().isoformat()
    done = {
        row["key"]
        for row in await Outbox.select(Outbox.key).where(Outbox.key.like(f"digest:%:{day}"))
    }
    csms = await CSM.select(
        CSM.id, CSM.name, CSM.email, CSM.slack_channel, CSM.slack_user_id
    ).where(
        CSM.active == True  # noqa: E712
    )
    queued = 0
    for csm in csms:
        key = f"digest:{csm['id']}:{day}"
        channel = csm["slack_user_id"] or csm["slack_channel"]
        if key in done or channel is None:
            continue
        principal = Principal(role=Role.csm, actor=csm["email"], source="worker", csm_id=csm["id"])
        ctas = await list_ctas(principal, owner_ids={csm["id"]})
        detractors = await Outbox.raw(_DETRACTORS_SQL, csm["id"], now - timedelta(days=1), now)
        red = await Outbox.raw(_RED_SQL, csm["id"])
        if not ctas and not detractors and not red:
            continue
        text, blocks = digest_blocks(
            csm["name"], ctas, detractors, get_settings().public_url, red=red
        )
        inserted = (
            await Outbox.insert(
                Outbox(
                    key=key,
                    kind="digest",
                    channel=channel,
                    payload={"text": text, "blocks": blocks},
                    status=OutboxStatus.pending.value,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(Outbox.id)
        )
        queued += bool(inserted)
    if queued:
        _notify_delivery()
    return queued
