"""Programs (journeys that email customers): a program's definition, the people enrolled in
it, and each step done for each of them.

A participant is enrolled once per program and trigger (the unique index
`participant_program_trigger` on (program, trigger_key)), and a step is done once per
participant (`participant_step_once` on (participant, step_index)): two workers scanning the
same triggers or running the same due step at once do the work once.
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
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

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import Cta
from feedback.responses.models import Response


class ParticipantState(StrEnum):
    active = "active"  # steps still to do
    completed = "completed"  # every step done (or an `end` step reached)
    exited = "exited"  # an exit condition held: `exit_reason` says which


class Program(Table, tablename="program"):
    id: Serial  # the primary key Piccolo adds, declared for type checkers
    name = Varchar(length=200, unique=True)
    # a shipped program's stable name (onboarding, poor_nps): `ensure_default_programs`
    # creates each once, whatever an admin renamed it to since
    slug = Varchar(length=60, null=True, default=None, unique=True)
    description = Text(default="")
    enabled = Boolean(default=False)
    # account_created, user_added, detractor_answer, promoter_comment, renewal_in_days,
    # health_red, manual (feedback/programs/definitions.py TRIGGERS)
    trigger_kind = Varchar(length=40)
    trigger_params = JSONB(default={})
    # which accounts and people, e.g. {"plan": ["Enterprise"], "role": ["Admin"]}
    audience = JSONB(default={})
    steps = JSONB(default=[])
    # answered, cta_closed, unsubscribed, churned
    exit_conditions = JSONB(default=[])
    locale_default = Varchar(length=10, default="en")
    # the triggers scanned up to this moment (the worker's cursor); None until the first scan
    scanned_until = Timestamptz(null=True, default=None)
    archived = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Participant(Table, tablename="program_participant"):
    """One person (or, for account-level triggers, one account) going through a program."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    program = ForeignKey(references=Program, null=False, on_delete=OnDelete.cascade)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade, index=True)
    end_user = ForeignKey(references=EndUser, null=True, on_delete=OnDelete.cascade, index=True)
    # e.g. "response:17", "user:4", "renewal:3:2027-03-01": unique per program
    trigger_key = Varchar(length=200)
    # the answer that enrolled them (its score and comment are the templates' variables)
    response = ForeignKey(references=Response, null=True, on_delete=OnDelete.set_null)
    # the CTA they were enrolled from (by hand): closing it is an exit
    cta = ForeignKey(references=Cta, null=True, on_delete=OnDelete.set_null)
    state = Varchar(length=20, default=ParticipantState.active.value, choices=ParticipantState)
    exit_reason = Varchar(length=40, null=True, default=None)
    # the index of the next step to do; next_run_at is when (a wait, a throttled mail)
    step_index = Integer(default=0)
    next_run_at = Timestamptz(null=True, default=None)
    # why a step could not reach the person (e.g. no_valid_email): recorded, not retried
    skipped_reason = Varchar(length=60, null=True, default=None)
    enrolled_by = Varchar(length=200, default="trigger")
    enrolled_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class ParticipantStep(Table, tablename="program_participant_step"):
    """A step done for a participant, once: sent, skipped:<why>, cta:<id>, posted, waited."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    participant = ForeignKey(references=Participant, null=False, on_delete=OnDelete.cascade)
    step_index = Integer()
    kind = Varchar(length=20)
    result = Varchar(length=100)
    mail_id = Integer(null=True, default=None)
    cta_id = Integer(null=True, default=None)
    done_at = Timestamptz(default=TimestamptzNow())
