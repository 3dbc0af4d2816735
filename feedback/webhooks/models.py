"""Signed webhooks: the endpoints admins register, the events changes record, and one
delivery per endpoint and event (see docs/webhooks.md)."""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class EventType(StrEnum):
    response_created = "response.created"
    response_commented = "response.commented"
    cta_created = "cta.created"
    cta_changed = "cta.changed"
    health_band_changed = "health.band_changed"
    program_completed = "program.completed"
    person_unsubscribed = "person.unsubscribed"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting to be sent (or re-sent after a 5xx, a timeout, no connection)
    sending = "sending"  # claimed by a worker until claimed_until; then pending again
    delivered = "delivered"  # the receiver answered 2xx
    # refused for good (a 4xx other than 408/429) or failing for FEEDBACK_WEBHOOK_RETRY_HOURS,
    # or its endpoint was switched off: shown in the endpoint's delivery log, where an admin
    # may send it again
    dead = "dead"


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """Where an admin wants events sent: an http(s) URL, the event types it takes and the
    environment whose events it gets (production unless chosen)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    url = Varchar(length=2000)
    description = Varchar(length=200, default="")
    events = JSONB(default=[])  # EventType values
    environment = Varchar(length=20, default="production")
    # the signing secret, encrypted with the service's secret key; shown once at creation
    secret_sealed = Text(secret=True)
    active = Boolean(default=True)
    # why it is off: switched off by an admin, or by the service after failing for a day
    disabled_reason = Text(default="")
    disabled_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=320, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookEvent(Table, tablename="webhook_event"):
    """Something that happened, written in the transaction of the change: its type, the
    object it is about and the environment it happened in. The dispatcher renders the
    object once (`data`, frozen: retries and replays send the same body) and makes one
    delivery per endpoint that takes it."""

    id: Serial
    type = Varchar(length=40)
    object_id = Varchar(length=200)  # the object's id as the API names it
    environment = Varchar(length=20, default="production")
    occurred_at = Timestamptz(default=TimestamptzNow())
    data = JSONB(null=True, default=None)
    dispatched_at = Timestamptz(null=True, default=None, index=True)


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One event to one endpoint. Unique per endpoint and event, so two workers (or two
    dispatches) never deliver one event twice to one endpoint."""

    id: Serial
    slot = Varchar(length=100, unique=True)  # endpoint:event
    endpoint = ForeignKey(
        references=WebhookEndpoint, null=False, on_delete=OnDelete.cascade, index=True
    )
    event = ForeignKey(references=WebhookEvent, null=False, on_delete=OnDelete.cascade)
    status = Varchar(length=20, default=DeliveryStatus.pending.value, choices=DeliveryStatus)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    claimed_by = Varchar(length=100, null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    last_status = SmallInt(null=True, default=None)  # the receiver's last HTTP status
    last_error = Text(default="")
    # when its attempts began failing; dead FEEDBACK_WEBHOOK_RETRY_HOURS later
    failing_since = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
