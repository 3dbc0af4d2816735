"""The object a webhook event is about, in the shape the API gives it, made by the API's own
serialisers: the dispatcher renders it once per event (feedback.webhooks.dispatch) and
freezes it in the payload's `data.object`.

- `response.created`, `response.commented`: the answer, its `id` and the fields of an
  answer in `GET /api/v1/reports/responses`;
- `cta.created`, `cta.changed`: the CTA with its history, as `GET /api/v1/ctas/{id}`;
- `health.band_changed`: the account (`account_id`, `name`), the `day`, `from_band`,
  `to_band`, and that day's `score` and `components` (`GET /api/v1/health/accounts/{id}`);
- `program.completed`: the participant as `GET /api/v1/programs/{id}/participants` lists
  it, with its `program` (`id`, `name`);
- `person.unsubscribed`: `email`, `unsubscribed_at`, `reason` (`unsubscribed`, or
  `added_by_admin`), `user_ids` and the end users with that email (`GET /api/v1/users/{id}`).

None when the object is gone (an answer or CTA erased, a suppression lifted before the
event was dispatched)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
from piccolo.query import WhereRaw

from feedback.accounts.models import Account, EndUser
from feedback.accounts.services import USER_FIELDS, end_user_view
from feedback.ctas.reads import cta_history, load_cta
from feedback.ctas.views import cta_json
from feedback.db import as_utc_datetime, fetch
from feedback.health.services import account_history
from feedback.kernel.nps import category
from feedback.kernel.principal import Principal, Role
from feedback.mail.models import Suppression, SuppressionReason
from feedback.programs.models import Participant
from feedback.programs.services import ParticipantRow
from feedback.reports.explorer import AnsweredResponse
from feedback.reports.queries import responses_page_sql
from feedback.webhooks.models import EventType

# the webhooks read as an admin would: every account, whoever its CSM
READER = Principal(role=Role.admin, actor="webhooks", source="api")
# how far back the snapshot before a band change is looked for
BAND_LOOKBACK = timedelta(days=400)


def _json(value: Any) -> Any:
    """Plain JSON values, as the API encodes them (msgspec: dates and times in ISO 8601)."""
    return msgspec.to_builtins(value)


def _number(object_id: str) -> int | None:
    return int(object_id) if object_id.isdigit() and len(object_id) < 12 else None


async def render_object(event_type: str, object_id: str) -> dict[str, Any] | None:
    kind = EventType(event_type)
    if kind in (EventType.response_created, EventType.response_commented):
        return await _response(object_id)
    if kind in (EventType.cta_created, EventType.cta_changed):
        return await _cta(object_id)
    if kind is EventType.health_band_changed:
        return await _band_change(object_id)
    if kind is EventType.program_completed:
        return await _participant(object_id)
    return await _unsubscribed(object_id)


async def _response(object_id: str) -> dict[str, Any] | None:
    answer = _number(object_id)
    if answer is None:
        return None
    rows = await fetch(responses_page_sql(["r.id = {}"]), answer, 1, 0)
    if not rows:
        return None
    row = rows[0]
    shown = AnsweredResponse(category=category(int(row["score"])), **row)
    return {"id": answer, **_json(shown)}


async def _cta(object_id: str) -> dict[str, Any] | None:
    cta_id = _number(object_id)
    cta = None if cta_id is None else await load_cta(cta_id)
    if cta is None or cta_id is None:
        return None
    history = [entry.as_dict() for entry in await cta_history(cta_id)]
    result: dict[str, Any] = _json({**cta_json(cta), "history": history})
    return result


async def _band_change(object_id: str) -> dict[str, Any] | None:
    """Object id: "<account's internal id>:<day>"."""
    account_part, _, day_part = object_id.partition(":")
    account_id = _number(account_part)
    try:
        day = date.fromisoformat(day_part)
    except ValueError:
        return None
    account = (
        None
        if account_id is None
        else await Account.select(Account.external_id).where(Account.id == account_id).first()
    )
    if account is None:
        return None
    history = await account_history(READER, account["external_id"], day - BAND_LOOKBACK, day)
    days = history["days"]
    if not days or str(days[-1]["day"]) != day.isoformat():
        return None
    now, before = days[-1], (days[-2] if len(days) > 1 else None)
    return _json(
        {
            "account_id": history["account_id"],
            "name": history["name"],
            "day": now["day"],
            "from_band": before["band"] if before else None,
            "to_band": now["band"],
            "score": now["score"],
            "components": now["components"],
        }
    )


async def _participant(object_id: str) -> dict[str, Any] | None:
    participant = _number(object_id)
    if participant is None:
        return None
    row = (
        await Participant.select(
            Participant.id,
            Participant.state,
            Participant.exit_reason,
            Participant.step_index,
            Participant.next_run_at,
            Participant.skipped_reason,
            Participant.enrolled_at,
            Participant.enrolled_by,
            Participant.finished_at,
            Participant.trigger_key,
            Participant.end_user.email.as_alias("email"),
            Participant.end_user.external_id.as_alias("user_external_id"),
            Participant.account.name.as_alias("account_name"),
            Participant.account.external_id.as_alias("account_external_id"),
            Participant.program.id.as_alias("program_id"),
            Participant.program.name.as_alias("program_name"),
        )
        .where(Participant.id == participant)
        .first()
    )
    if row is None:
        return None
    program = {"id": row.pop("program_id"), "name": row.pop("program_name")}
    for moment in ("next_run_at", "enrolled_at", "finished_at"):
        row[moment] = as_utc_datetime(row[moment])
    return _json({**ParticipantRow(**row).as_dict(), "program": program})


async def _unsubscribed(object_id: str) -> dict[str, Any] | None:
    suppression = _number(object_id)
    row = (
        None
        if suppression is None
        else await Suppression.select(
            Suppression.address, Suppression.reason, Suppression.source, Suppression.created_at
        )
        .where(Suppression.id == suppression)
        .first()
    )
    if row is None:
        return None
    users = (
        await EndUser.select(*USER_FIELDS)
        .where(WhereRaw("lower(end_user.email) = {}", row["address"]))
        .order_by(EndUser.id)
        .output(load_json=True)
    )
    # the list has no reason of its own for an admin's addition: say who decided
    by_admin = row["reason"] != SuppressionReason.unsubscribed and row["source"].startswith(
        "added by "
    )
    return _json(
        {
            "email": row["address"],
            "unsubscribed_at": as_utc_datetime(row["created_at"]),
            "reason": "added_by_admin" if by_admin else row["reason"],
            "user_ids": [user["external_id"] for user in users],
            "users": [end_user_view(user) for user in users],
        }
    )
