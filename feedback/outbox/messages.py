"""The outbox's typed records: a queued message, a rendered one, what admins see of one, and
a CSM's digest before it is rendered."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from feedback.ctas.records import CtaView
from feedback.db import as_utc_datetime, json_object


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message in the outbox: a CTA's (rendered as the CTA is when it is sent) or one
    whose text and blocks were stored with it (a digest)."""

    id: int
    kind: str  # "cta" (its card), "thread" (a reply under its card), "digest" or "notice"
    cta: int | None
    channel: str | None
    payload: dict[str, Any]
    attempts: int
    failing_since: datetime | None = None  # its sends have failed since then (retried)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxMessage:
        return cls(
            id=row["id"],
            kind=row["kind"],
            cta=row["cta"],
            channel=row["channel"],
            payload=json_object(row["payload"]),
            attempts=row["attempts"],
            failing_since=as_utc_datetime(row.get("failing_since")),
        )


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a message shows: the fallback text and the blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True, slots=True)
class ListedMessage:
    """A message as admins see it, with what it shows (or would show)."""

    id: int
    key: str
    kind: str
    cta: int | None
    channel: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    failing_since: datetime | None
    slack_ts: str | None
    created_at: datetime | None
    sent_at: datetime | None
    preview: Rendered

    @classmethod
    def from_row(cls, row: dict[str, Any], preview: Rendered) -> ListedMessage:
        return cls(
            id=row["id"],
            key=row["key"],
            kind=row["kind"],
            cta=row["cta"],
            channel=row["channel"],
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=as_utc_datetime(row["next_attempt_at"]),
            last_error=row["last_error"],
            failing_since=as_utc_datetime(row.get("failing_since")),
            slack_ts=row["slack_ts"],
            created_at=as_utc_datetime(row["created_at"]),
            sent_at=as_utc_datetime(row["sent_at"]),
            preview=preview,
        )

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["preview"] = self.preview.as_dict()
        return out


@dataclass(frozen=True, slots=True)
class DigestAnswer:
    account_name: str
    score: int
    comment: str | None


@dataclass(frozen=True, slots=True)
class RedAccount:
    account_name: str
    score: float


@dataclass(frozen=True, slots=True)
class DigestTheme:
    """A comment theme mentioned more this week than in an average week of the four before
    (feedback.themes.reports.rising_themes), as the digest shows it."""

    label: str
    this_week: int
    weekly_before: float


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits to be sent: how many messages, the oldest one's age, and how many of them
    are retrying (their sends failed: Slack down, slow or busy)."""

    waiting: int
    oldest_seconds: float
    retrying: int


@dataclass(frozen=True, slots=True)
class Digest:
    """A CSM's daily digest: their open CTAs, the last day's detractors, their accounts in
    the red band on the latest health snapshot, and the themes rising this week in their
    accounts' comments."""

    csm_name: str
    ctas: list[CtaView]
    detractors: list[DigestAnswer]
    red: list[RedAccount]
    rising: list[DigestTheme] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to tell: no digest is sent (a daily message saying nothing trains people
        to ignore it)."""
        return not (self.ctas or self.detractors or self.red or self.rising)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a message names: their name, and their Slack user when they have one (to
    @mention them)."""

    name: str
    slack_user: str | None = None


@dataclass(frozen=True, slots=True)
class Respondent:
    """Who gave the answer that raised a CTA: a name or email when the product sent one,
    and their role."""

    label: str  # a name, an email, or their id in the product
    role: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    """What happened to a CTA, as a reply under its card says it: the action (a history
    action, or "answer": a worse answer came), who did it (`actor`: a CSM's name, or as
    recorded), from where, the note and data of its history event, and the people the data
    names (new owners, managers) by CSM id."""

    action: str
    actor: str
    source: str
    note: str
    data: dict[str, Any]
    at: datetime | None
    to_status: str | None = None
    people: dict[int, Person] = field(default_factory=dict)
