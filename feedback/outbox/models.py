"""The outbox's tables: the messages to deliver, and the per-channel pacing all workers share."""

from enum import StrEnum

from piccolo.columns import JSONB, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.ctas.models import Cta


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting to be sent (or re-sent after a failure)
    sending = "sending"  # claimed by a worker until claimed_until; then pending again
    sent = "sent"
    # refused for good, or failing for FEEDBACK_SLACK_RETRY_HOURS: shown to admins with its
    # last error
    dead = "dead"
    unrouted = "unrouted"  # Slack not configured, or nowhere to send: shown to admins


class Outbox(Table, tablename="outbox"):
    """A message to deliver, written in the transaction of the change that caused it."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    # unique: a change enqueues its message once, however often it is retried
    key = Varchar(length=200, unique=True)
    # cta (post or update the CTA's card), thread (a reply under the card), digest, notice
    kind = Varchar(length=30)
    cta = ForeignKey(references=Cta, null=True, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=80, null=True, default=None)
    payload = JSONB(default={})
    status = Varchar(length=20, default=OutboxStatus.pending.value, choices=OutboxStatus)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_by = Varchar(length=100, null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    # when its sends began failing with errors a retry may fix (Slack down, slow or busy);
    # none while it has not failed. The message is dead FEEDBACK_SLACK_RETRY_HOURS later.
    failing_since = Timestamptz(null=True, default=None)
    # the message it sent or edited: its ts, and the conversation Slack says it is in (for a
    # direct message routed to a user U..., the D... conversation that `chat.update` needs).
    # A CTA's sent rows are its cards: every change updates the newest one of each channel.
    slack_ts = Varchar(length=40, null=True, default=None)
    slack_channel = Varchar(length=80, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class SlackChannelPace(Table, tablename="slack_channel_pace"):
    """Per-channel send pacing shared by all workers: a worker may send to a channel only
    after taking its slot (`next_send_at <= now`, moved forward atomically)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    channel = Varchar(length=80, unique=True)
    next_send_at = Timestamptz(default=TimestamptzNow())
