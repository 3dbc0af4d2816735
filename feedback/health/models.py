"""Usage metrics pushed per account per day, and the daily health snapshot per account.

Both tables are unique per (account, day) (metrics also per name) through indexes made in a
raw-SQL migration, because Piccolo declares no multi-column unique constraints.
"""

from piccolo.columns import (
    JSONB,
    BigInt,
    Date,
    DoublePrecision,
    ForeignKey,
    OnDelete,
    Real,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import CSM, Account


class UsageMetric(Table, tablename="usage_metric"):
    """One value of one usage or adoption metric for one account on one day (UTC)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    # not indexed alone: the unique (account, name, day) index made in a raw-SQL migration
    # serves an account's rows, a CSM's accounts' rows and the cascade from account
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade)
    name = Varchar(length=64)
    day = Date(index=True)
    value = DoublePrecision()
    updated_at = Timestamptz(default=TimestamptzNow())


class HealthSnapshot(Table, tablename="health_snapshot"):
    """An account's health score on one day, with the components it was made of.

    The CSM and ARR are copied as they were that day, so roll-ups by CSM or team over time
    show history, not today's book.
    """

    id: Serial
    # neither indexed alone: the unique (account, day) index serves an account's history and
    # the cascade from account, the (day, csm) index a day's snapshots and the latest day
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade)
    day = Date()
    score = Real(null=True, default=None)
    band = Varchar(length=10, default="unknown")
    components = JSONB(default={})
    # not indexed alone: the (csm, day) index made in a raw-SQL migration covers it, and a
    # CSM's or a team's trend over a window reads only that window's rows through it
    csm = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null)
    arr_cents = BigInt(null=True, default=None)
    computed_at = Timestamptz(default=TimestamptzNow())
