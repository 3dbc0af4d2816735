"""The customer book: CSMs, accounts, their end users and churn events.

Money is stored in integer cents (exact on both engines: Piccolo hands SQLite's NUMERIC to
Python as float). Timestamps are timezone-aware UTC.
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    BigInt,
    Boolean,
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


class AccountStatus(StrEnum):
    trial = "trial"
    active = "active"
    churned = "churned"


class ChurnKind(StrEnum):
    termination_notice = "termination_notice"
    non_renewal = "non_renewal"


class CsmKind(StrEnum):
    dedicated = "dedicated"  # owns a book of accounts
    pooled = "pooled"  # a specialist in one or more pools (feedback/pools)


class CSM(Table, tablename="csm"):
    """A customer success manager; `manager` builds the team and executive roll-ups."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    name = Varchar(length=200)
    email = Varchar(length=320, unique=True, index=True)
    slack_user_id = Varchar(length=32, null=True, default=None)
    slack_channel = Varchar(length=80, null=True, default=None)
    manager: ForeignKey["CSM"] = ForeignKey(
        references="self", null=True, on_delete=OnDelete.set_null
    )
    active = Boolean(default=True)
    kind = Varchar(length=20, default=CsmKind.dedicated.value, choices=CsmKind)
    # where customers book a meeting with this person (e.g. their Calendly page): program
    # mails and the widget's "Talk to ..." link use it
    meeting_url = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Account(Table, tablename="account"):
    id: Serial
    external_id = Varchar(length=200, unique=True, index=True)
    name = Varchar(length=300)
    plan = Varchar(length=100, null=True, default=None, index=True)
    industry = Varchar(length=100, null=True, default=None)
    employee_count = Integer(null=True, default=None)
    company_size = Varchar(length=50, null=True, default=None)
    arr_cents = BigInt(null=True, default=None)
    currency = Varchar(length=3, default="USD")
    csm = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null, index=True)
    renewal_date = Date(null=True, default=None, index=True)
    status = Varchar(length=20, default=AccountStatus.active.value, choices=AccountStatus)
    traits = JSONB(default={})
    # where the account was first seen: production for imports, the API and production
    # widget keys; staging or development when a test key's call created it (a production
    # key, an import or the API later makes it production). Production views leave the others
    # out, so test traffic adds no accounts to the real numbers.
    environment = Varchar(length=20, default="production")
    # the end of what the source observed of this account (an export's cut-off, a study's
    # last month): survival analysis censors a churn-free account here rather than at the
    # time of the request; None means observed until now
    observed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class EndUser(Table, tablename="end_user"):
    """A user of the customer's product: the person who answers surveys."""

    id: Serial
    external_id = Varchar(length=200, unique=True)  # unique: indexed already
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=100, null=True, default=None)
    email = Varchar(length=320, null=True, default=None)
    locale = Varchar(length=35, null=True, default=None)
    traits = JSONB(default={})
    first_seen_at = Timestamptz(null=True, default=None)
    last_seen_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)  # programs scan new users
    updated_at = Timestamptz(default=TimestamptzNow())
    # when this user was last shown any survey: the compare-and-set that keeps the global gap
    last_display_at = Timestamptz(null=True, default=None)
    # when the tool used before this one last asked them (imported): the schedules wait a
    # cadence from then, so moving in does not ask people surveyed there just before
    asked_elsewhere_at = Timestamptz(null=True, default=None)
    # where the user was first seen: as for their account (production for imports and
    # production keys; staging or development when a test key's call created them, until a
    # production key or an import names them). Programs and health leave the others out.
    environment = Varchar(length=20, default="production")


class ChurnEvent(Table, tablename="churn_event"):
    """A termination notice or a non-renewal: the outcome the churn analysis predicts."""

    id: Serial
    # the import's upsert key: the source's id, or account + notice date when it has none
    dedupe_key = Varchar(length=300, unique=True)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=30, choices=ChurnKind)
    noticed_at = Timestamptz(index=True)
    effective_at = Timestamptz(null=True, default=None)
    reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
