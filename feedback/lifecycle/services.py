"""Data lifecycle: erasing an end user or an account on request, exporting an account's data,
and removing old comments.

Erasing anonymises by default: the person's answers keep their score and the segment
snapshot (plan, industry, size, CSM, ARR), so reports stay true, but nothing ties them to
the person any more (user link, comment and locale are removed; CTAs lose the comment and
the user id). `mode="delete"` removes the answers too. Every erasure leaves an audit entry
with counts, never the erased content. Each erasure is one transaction: all or nothing.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from feedback.accounts.models import Account, ChurnEvent, EndUser
from feedback.auth.services import audit
from feedback.ctas.models import Cta, CtaEvent
from feedback.db import as_utc_datetime, fetch, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError, NotFound
from feedback.lifecycle.queries import CTAS_OF_ACCOUNT, ctas_by_id_sql
from feedback.outbox.models import Outbox
from feedback.responses.models import Response

MODES = ("anonymise", "delete")
ERASED = "(erased)"


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError("mode", f"must be one of {', '.join(MODES)}")
    return mode


async def _scrub_ctas(rows: list[dict[str, Any]]) -> int:
    """Remove comments and user ids from these CTAs (rows of id and trigger), raised by
    answers being erased."""
    for row in rows:
        trigger = row["trigger"]
        trigger = json.loads(trigger) if isinstance(trigger, str) else dict(trigger or {})
        trigger.update({"comment": "", "user": ERASED})
        await Cta.update({Cta.trigger: trigger, Cta.detail: ERASED}).where(Cta.id == row["id"])
        await CtaEvent.update({CtaEvent.note: ERASED, CtaEvent.data: {}}).where(
            (CtaEvent.cta == row["id"]) & (CtaEvent.source == "rule")
        )
    # delivered digests may quote comments: keep that they were sent, not what they said
    await Outbox.update({Outbox.payload: {}}).where(
        (Outbox.kind == "digest") & (Outbox.status == "sent")
    )
    return len(rows)


async def erase_user(external_id: str, mode: str, actor: str, source: str) -> dict[str, Any]:
    check_mode(mode)
    async with write_transaction():
        user = (
            await EndUser.select(EndUser.id, EndUser.account)
            .where(EndUser.external_id == external_id)
            .first()
        )
        if user is None:
            raise NotFound.for_field("user", f"no user {external_id!r}")
        response_ids = [
            r["id"]
            for r in await Response.select(Response.id).where(Response.end_user == user["id"])
        ]
        ctas = await _scrub_ctas_for_responses(response_ids)
        if mode == "delete":
            await Response.delete().where(Response.end_user == user["id"])
        else:
            await Response.update(
                {Response.end_user: None, Response.comment: None, Response.locale: None}
            ).where(Response.end_user == user["id"])
        await EndUser.delete().where(EndUser.id == user["id"])  # displays go with it
        result = {"user": external_id, "mode": mode, "responses": len(response_ids), "ctas": ctas}
        await audit(actor, source, "erase.user", external_id, result)
    return result


async def _scrub_ctas_for_responses(response_ids: list[int]) -> int:
    """CTAs whose trigger is one of these answers (trigger JSON holds response_id)."""
    wanted = set(response_ids)
    if not wanted:
        return 0
    accounts = {
        r["account"]
        for r in await Response.select(Response.account).where(Response.id.is_in(list(wanted)))
    }
    rows = (
        await Cta.select(Cta.id, Cta.trigger)
        .where(Cta.account.is_in(list(accounts)))
        .output(load_json=True)
    )
    hits = [r["id"] for r in rows if (r["trigger"] or {}).get("response_id") in wanted]
    if not hits:
        return 0
    return await _scrub_ctas(await fetch(ctas_by_id_sql(len(hits)), *hits))


async def erase_account(external_id: str, mode: str, actor: str, source: str) -> dict[str, Any]:
    """`delete`: the account and everything about it. `anonymise`: its people, comments and
    name go; the account stays as an unnamed row with its segment attributes, so past NPS
    and churn figures keep their counts."""
    check_mode(mode)
    async with write_transaction():
        account = await Account.select(Account.id).where(Account.external_id == external_id).first()
        if account is None:
            raise NotFound.for_field("account", f"no account {external_id!r}")
        account_id = account["id"]
        responses = await Response.count().where(Response.account == account_id)
        users = await EndUser.count().where(EndUser.account == account_id)
        if mode == "delete":
            ctas = await Cta.count().where(Cta.account == account_id)
            await Account.delete().where(Account.id == account_id)  # cascades to everything
        else:
            ctas = await _scrub_ctas(await CTAS_OF_ACCOUNT.fetch(account_id))
            await Response.update(
                {Response.end_user: None, Response.comment: None, Response.locale: None}
            ).where(Response.account == account_id)
            await EndUser.delete().where(EndUser.account == account_id)
            await ChurnEvent.update({ChurnEvent.reason: ""}).where(ChurnEvent.account == account_id)
            await Account.update(
                {
                    Account.external_id: f"erased-{account_id}",
                    Account.name: ERASED,
                    Account.traits: {},
                    Account.updated_at: utcnow(),
                }
            ).where(Account.id == account_id)
        result = {
            "account": external_id,
            "mode": mode,
            "responses": responses,
            "users": users,
            "ctas": ctas,
        }
        await audit(actor, source, "erase.account", external_id, result)
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc_datetime(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def export_account(external_id: str) -> dict[str, Any]:
    """Everything stored about one account, as JSON-ready data."""
    account = (
        await Account.select()
        .where(Account.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    if account is None:
        raise NotFound.for_field("account", f"no account {external_id!r}")
    account_id = account["id"]
    users = await EndUser.select().where(EndUser.account == account_id).output(load_json=True)
    responses = (
        await Response.select().where(Response.account == account_id).order_by(Response.answered_at)
    )
    churn = await ChurnEvent.select().where(ChurnEvent.account == account_id)
    ctas = await Cta.select().where(Cta.account == account_id).output(load_json=True)
    history = (
        await CtaEvent.select()
        .where(CtaEvent.cta.is_in([c["id"] for c in ctas] or [0]))
        .output(load_json=True)
    )
    return _plain(
        {
            "exported_at": utcnow(),
            "account": account,
            "end_users": users,
            "responses": responses,
            "churn_events": churn,
            "ctas": ctas,
            "cta_history": history,
        }
    )


async def expire_old_comments(months: int, now: datetime | None = None) -> int:
    """Worker job (with FEEDBACK_COMMENT_RETENTION_MONTHS > 0): comments older than the
    retention period are removed; scores and segments stay."""
    if months <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=round(months * 30.44))
    async with write_transaction():
        old = (
            await Response.update({Response.comment: None})
            .where((Response.answered_at < cutoff) & Response.comment.is_not_null())
            .returning(Response.id)
        )
        if old:
            await _scrub_ctas_for_responses([r["id"] for r in old])
    return len(old)
