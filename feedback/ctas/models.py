"""Calls-to-Action, their history, and the outbox that carries them to Slack.

A CTA is owned by the account's CSM. At most one CTA per account, type and reason is not
closed at a time (a partial unique index, migration *_cta_indexes): a new signal updates it.
Every change writes a `cta_event` row (who, from where, what) and, in the same transaction,
an `outbox` row that a worker delivers to Slack.
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import CSM, Account


class CtaStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    snoozed = "snoozed"
    closed = "closed"


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting to be sent (or re-sent after a failure)
    sending = "sending"  # claimed by a worker until claimed_until; then pending again
    sent = "sent"
    dead = "dead"  # failed too often: shown to admins with its last error
    unrouted = "unrouted"  # Slack not configured, or nowhere to send: shown to admins


class CtaType(Table, tablename="cta_type"):
    """CTA types admins added (`POST /api/v1/cta-types`); the built-in ones live in code
    (feedback/ctas/services.py BUILTIN_TYPES)."""

    key = Varchar(length=40, unique=True)
    label = Varchar(length=100)
    created_at = Timestamptz(default=TimestamptzNow())


class Cta(Table, tablename="cta"):
    type = Varchar(length=40)
    reason = Varchar(length=300)
    detail = Text(default="")
    # 1 = urgent ... 4 = low
    priority = Integer(default=3)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade, index=True)
    owner = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null, index=True)
    due_on = Date(null=True, default=None)
    status = Varchar(length=20, default=CtaStatus.open.value, choices=CtaStatus, index=True)
    snoozed_until = Timestamptz(null=True, default=None)
    snooze_reason = Text(default="")
    close_reason = Text(default="")
    # what raised it, e.g. {"kind": "response", "response_id": 7, "score": 2}
    trigger = JSONB(default={})
    # bumped on every change: Slack buttons and web forms compare-and-set against it
    version = Integer(default=1)
    # the Slack message that shows this CTA (chat.update edits it in place)
    slack_channel = Varchar(length=80, null=True, default=None)
    slack_ts = Varchar(length=40, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    closed_at = Timestamptz(null=True, default=None)


class CtaEvent(Table, tablename="cta_event"):
    """One change of a CTA: who made it and from where (slack, web, api, rule)."""

    cta = ForeignKey(references=Cta, null=False, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=200)
    source = Varchar(length=20)
    action = Varchar(length=40)
    from_status = Varchar(length=20, null=True, default=None)
    to_status = Varchar(length=20, null=True, default=None)
    note = Text(default="")
    data = JSONB(default={})


class Outbox(Table, tablename="outbox"):
    """A message to deliver, written in the transaction of the change that caused it."""

    # unique: a change enqueues its message once, however often it is retried
    key = Varchar(length=200, unique=True)
    kind = Varchar(length=30)  # cta (post or update the CTA's message), digest
    cta = ForeignKey(references=Cta, null=True, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=80, null=True, default=None)
    payload = JSONB(default={})
    status = Varchar(length=20, default=OutboxStatus.pending.value, choices=OutboxStatus)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_by = Varchar(length=100, null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    slack_ts = Varchar(length=40, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class SlackChannelPace(Table, tablename="slack_channel_pace"):
    """Per-channel send pacing shared by all workers: a worker may send to a channel only
    after taking its slot (`next_send_at <= now`, moved forward atomically)."""

    channel = Varchar(length=80, unique=True)
    next_send_at = Timestamptz(default=TimestamptzNow())


class SlackEventSeen(Table, tablename="slack_event_seen"):
    """Events API ids already handled (Slack retries deliveries it thinks failed)."""

    event_id = Varchar(length=100, unique=True)
    seen_at = Timestamptz(default=TimestamptzNow())
