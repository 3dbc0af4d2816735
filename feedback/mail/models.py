"""Mail to customers: the outbox of messages to send over SMTP, and the addresses never to
mail again (unsubscribed, bounced)."""

from enum import StrEnum

from piccolo.columns import ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import EndUser


class MailStatus(StrEnum):
    pending = "pending"  # waiting to be sent (or re-sent after a 4xx or a dropped connection)
    sending = "sending"  # claimed by a worker until claimed_until; then pending again
    sent = "sent"
    # refused for good (5xx, the address suppressed before the send) or failing for
    # FEEDBACK_MAIL_RETRY_HOURS: shown to admins with its last error, who may retry it
    dead = "dead"


class MailKind(StrEnum):
    program = "program"  # to a customer: consent rules (suppression, throttle, unsubscribe)
    test = "test"  # a test send to a staff user


class SuppressionReason(StrEnum):
    unsubscribed = "unsubscribed"
    hard_bounce = "hard_bounce"  # the relay said the mailbox does not exist (550/551/553)
    imported = "imported"  # added by an admin


class MailMessage(Table, tablename="mail_outbox"):
    """A mail to send, written in the transaction of the change that caused it. Without SMTP
    configured it stays pending, shown on the mail outbox page."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    key = Varchar(length=200, unique=True)  # a change queues its mail once
    kind = Varchar(length=20, default=MailKind.program.value, choices=MailKind)
    to_address = Varchar(length=320, index=True)  # lower-case
    to_name = Varchar(length=200, default="")
    from_name = Varchar(length=200, default="")
    reply_to = Varchar(length=320, null=True, default=None)
    subject = Varchar(length=300)
    text = Text()
    html = Text(null=True, default=None)
    locale = Varchar(length=10, default="en")
    end_user = ForeignKey(references=EndUser, null=True, on_delete=OnDelete.set_null)
    # plain integers, not foreign keys: the programs domain owns those tables
    program_id = Integer(null=True, default=None, index=True)
    participant_id = Integer(null=True, default=None)
    message_id = Varchar(length=300, default="")  # the Message-ID header, set when queued
    status = Varchar(length=20, default=MailStatus.pending.value, choices=MailStatus)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_by = Varchar(length=100, null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    # when its sends began failing with errors a retry may fix; dead
    # FEEDBACK_MAIL_RETRY_HOURS later
    failing_since = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class Suppression(Table, tablename="mail_suppression"):
    """An address no program mail goes to: checked when a mail is queued and again right
    before it is sent."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    address = Varchar(length=320, unique=True)  # lower-case
    reason = Varchar(length=20, choices=SuppressionReason)
    # who or what added it (a List-Unsubscribe POST, an admin)
    source = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
