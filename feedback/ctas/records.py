"""The CTA domain's typed records: a CTA as it is shown (with its account, owner and health),
and one entry of its history."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from feedback.db import as_utc_datetime, json_object

PRIORITIES = {1: "urgent", 2: "high", 3: "medium", 4: "low"}


@dataclass(frozen=True, slots=True)
class CtaView:
    """A CTA as the API, the pages, Slack and the outbox show it. The fields are in the
    order of the API's JSON."""

    id: int
    type: str
    reason: str
    detail: str
    priority: int
    account_id: int
    owner_id: int | None
    due_on: date | None
    status: str
    snoozed_until: datetime | None
    snooze_reason: str
    close_reason: str
    trigger: dict[str, Any]  # what raised it, e.g. {"kind": "response", "score": 2, ...}
    version: int
    # the Slack message that shows it (chat.update edits it in place)
    slack_channel: str | None
    slack_ts: str | None
    created_at: datetime | None
    updated_at: datetime | None
    closed_at: datetime | None
    account_external_id: str
    account_name: str
    arr_cents: int | None
    currency: str  # of arr_cents: the account's ISO code, e.g. "EUR"
    plan: str | None
    renewal_date: date | None
    account_csm: int | None
    owner_name: str | None
    owner_email: str | None
    owner_slack_user: str | None
    owner_manager: int | None
    owner_channel: str | None
    priority_label: str
    health: str | None  # the account's newest health, "62 (yellow)"
    # the pool of specialists serving the account (feedback/pools); unowned until claimed
    pool_id: int | None = None
    pool_name: str | None = None
    pool_channel: str | None = None
    claimed_at: datetime | None = None
    escalated_at: datetime | None = None
    # how a closed CTA ended (CtaOutcome), required when closing one raised by an answer
    outcome: str | None = None
    owner_meeting_url: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CtaView:
        """From a row of `queries.CTA_BY_ID` or `queries.list_ctas_sql` (either engine)."""
        score, band = row["health_score"], row["health_band"]
        return cls(
            id=row["id"],
            type=row["type"],
            reason=row["reason"],
            detail=row["detail"],
            priority=row["priority"],
            account_id=row["account_id"],
            owner_id=row["owner_id"],
            due_on=_day(row["due_on"]),
            status=row["status"],
            snoozed_until=as_utc_datetime(row["snoozed_until"]),
            snooze_reason=row["snooze_reason"],
            close_reason=row["close_reason"],
            trigger=json_object(row["trigger"]),
            version=row["version"],
            slack_channel=row["slack_channel"],
            slack_ts=row["slack_ts"],
            created_at=as_utc_datetime(row["created_at"]),
            updated_at=as_utc_datetime(row["updated_at"]),
            closed_at=as_utc_datetime(row["closed_at"]),
            account_external_id=row["account_external_id"],
            account_name=row["account_name"],
            arr_cents=row["arr_cents"],
            currency=row["currency"] or "USD",
            plan=row["plan"],
            renewal_date=_day(row["renewal_date"]),
            account_csm=row["account_csm"],
            owner_name=row["owner_name"],
            owner_email=row["owner_email"],
            owner_slack_user=row["owner_slack_user"],
            owner_manager=row["owner_manager"],
            owner_channel=row["owner_channel"],
            priority_label=PRIORITIES.get(row["priority"], str(row["priority"])),
            health=None if score is None else f"{float(score):.0f} ({band})",
            pool_id=row.get("pool_id"),
            pool_name=row.get("pool_name"),
            pool_channel=row.get("pool_channel"),
            claimed_at=as_utc_datetime(row.get("claimed_at")),
            escalated_at=as_utc_datetime(row.get("escalated_at")),
            outcome=row.get("outcome"),
            owner_meeting_url=row.get("owner_meeting_url"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of a CTA: when, who and from where (slack, web, api, rule), what."""

    at: datetime | None
    actor: str
    source: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
