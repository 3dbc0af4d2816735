"""NPS responses, from the widget or imported from another tool.

A response keeps a snapshot of the segment attributes that were true when the user answered
(plan, role, industry, company size, CSM, ARR), so reports show history, not today's values.
"""

from piccolo.columns import (
    JSONB,
    BigInt,
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

from feedback.accounts.models import CSM, Account, EndUser
from feedback.surveys.models import Display, Survey


class Response(Table, tablename="response"):
    id: Serial  # the primary key Piccolo adds, declared for type checkers
    # retries and re-imports never duplicate: the widget's client id or the source tool's id
    idempotency_key = Varchar(length=300, unique=True)
    source = Varchar(length=30, default="widget")
    # the environment of the widget key it came through (imports: production). Reports,
    # health, themes, the CTA rules, programs and webhooks read production unless asked
    environment = Varchar(length=20, default="production")
    end_user = ForeignKey(references=EndUser, null=True, on_delete=OnDelete.set_null, index=True)
    # indexed by response_account_answered_at (account, answered_at)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade)
    score = SmallInt()
    comment = Text(null=True, default=None)
    answered_at = Timestamptz(index=True)
    # when the first comment came: an edit (taken for a few minutes) keeps it
    commented_at = Timestamptz(null=True, default=None)
    locale = Varchar(length=35, null=True, default=None)
    plan = Varchar(length=100, null=True, default=None)
    role = Varchar(length=100, null=True, default=None)
    industry = Varchar(length=100, null=True, default=None)
    company_size = Varchar(length=50, null=True, default=None)
    employee_count = Integer(null=True, default=None)
    csm = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null, index=True)
    arr_cents = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # widget answers: the display they answer (one response per display) and its survey
    display = ForeignKey(references=Display, null=True, on_delete=OnDelete.set_null)
    survey = ForeignKey(references=Survey, null=True, on_delete=OnDelete.set_null, index=True)
    # the account's and the user's custom traits when they answered (the user's win on a
    # clash), so reports can group by any trait as it was then
    traits = JSONB(default={})
