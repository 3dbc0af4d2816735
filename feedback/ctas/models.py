"""Calls-to-Action, their history, and the queue of answers waiting for the CTA rules.

A CTA is owned by the account's CSM. At most one CTA per account, type and reason is not
closed at a time (a partial unique index, migration *_cta_indexes): a new signal updates it.
Every change writes a `cta_event` row (who, from where, what) and, in the same transaction,
an `outbox` row (feedback/outbox/models.py) that a worker delivers to Slack.
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import CSM, Account
from feedback.pools.models import Pool
from feedback.responses.models import Response


class CtaStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    snoozed = "snoozed"
    closed = "closed"


class CtaOutcome(StrEnum):
    """How a CTA raised by an answer ended (closing one requires it: the closed loop)."""

    contacted = "contacted"
    resolved = "resolved"
    no_response = "no_response"
    not_actionable = "not_actionable"
    churned = "churned"


class CtaType(Table, tablename="cta_type"):
    """CTA types admins added (`POST /api/v1/cta-types`); the built-in ones live in code
    (feedback/ctas/rule_settings.py BUILTIN_TYPES)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    key = Varchar(length=40, unique=True)
    label = Varchar(length=100)
    created_at = Timestamptz(default=TimestamptzNow())


class Cta(Table, tablename="cta"):
    id: Serial  # the primary key Piccolo adds, declared for type checkers
    type = Varchar(length=40)
    reason = Varchar(length=300)
    detail = Text(default="")
    # 1 = urgent ... 4 = low
    priority = Integer(default=3)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade, index=True)
    owner = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null, index=True)
    # the pool of specialists serving the account (no dedicated CSM): unowned until a member
    # claims it or the pool's rule assigns it (feedback/pools)
    pool = ForeignKey(references=Pool, null=True, on_delete=OnDelete.set_null, index=True)
    claimed_at = Timestamptz(null=True, default=None)
    escalated_at = Timestamptz(null=True, default=None)
    due_on = Date(null=True, default=None)
    status = Varchar(length=20, default=CtaStatus.open.value, choices=CtaStatus, index=True)
    snoozed_until = Timestamptz(null=True, default=None)
    snooze_reason = Text(default="")
    close_reason = Text(default="")
    outcome = Varchar(length=20, null=True, default=None, choices=CtaOutcome)
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

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    cta = ForeignKey(references=Cta, null=False, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=200)
    source = Varchar(length=20)
    action = Varchar(length=40)
    from_status = Varchar(length=20, null=True, default=None)
    to_status = Varchar(length=20, null=True, default=None)
    note = Text(default="")
    data = JSONB(default={})


class SlackEventSeen(Table, tablename="slack_event_seen"):
    """Events API ids already handled (Slack retries deliveries it thinks failed)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    event_id = Varchar(length=100, unique=True)
    seen_at = Timestamptz(default=TimestamptzNow())


class RulesQueue(Table, tablename="rules_queue"):
    """Answers waiting for the CTA rules: a detractor's score at once, a promoter's or a
    detractor's comment when it arrives. The answer statement queues a row; the answer rule
    runner (feedback/ctas/rules.py) takes rows whose time has come, raises their CTAs and
    deletes the rows in one transaction, or moves `due` on when an answer's rules failed.

    A queue of its own rather than a mark on the response: taking and clearing the mark
    locked and rewrote the wide response row of every such answer (a new row version and an
    entry in each of its nine indexes); this row is small and lives for about a second."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    response = ForeignKey(references=Response, null=False, on_delete=OnDelete.cascade, unique=True)
    due = Timestamptz(index=True)
