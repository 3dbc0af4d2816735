"""Programs as other pages show them: the programs an account's people are in and what each
step did (the account page)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from feedback.db import as_utc_datetime
from feedback.programs import queries
from feedback.programs.variables import person_name


@dataclass(frozen=True)
class StepDone:
    step_index: int
    kind: str  # email, wait, cta, slack
    result: str  # sent, refused:<why>, skipped:<why>, cta:<id>, posted, waited
    done_at: datetime | None
    cta_id: int | None = None
    # email steps: the mail's subject and status in the mail outbox (pending, sending, sent,
    # dead) and when it was sent
    subject: str | None = None
    mail_status: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class AccountProgram:
    participant_id: int
    program_id: int
    program_name: str
    person: str | None  # the person's name or email, None for an account-level trigger
    person_email: str | None
    state: str  # active, completed, exited
    enrolled_at: datetime | None
    finished_at: datetime | None
    exit_reason: str | None
    skipped_reason: str | None
    steps: list[StepDone] = field(default_factory=list)

    @property
    def mails(self) -> list[StepDone]:
        return [step for step in self.steps if step.kind == "email"]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def programs_of_account(account_id: int) -> list[AccountProgram]:
    """Every participation of the account and its people, the latest first, each with the
    steps done for it and the mails they queued."""
    steps: dict[int, list[StepDone]] = defaultdict(list)
    for row in await queries.STEPS_OF_ACCOUNT.fetch(account_id):
        steps[row["participant"]].append(
            StepDone(
                step_index=row["step_index"],
                kind=row["kind"],
                result=row["result"],
                done_at=as_utc_datetime(row["done_at"]),
                cta_id=row["cta_id"],
                subject=row["subject"],
                mail_status=row["mail_status"],
                sent_at=as_utc_datetime(row["sent_at"]),
            )
        )
    return [
        AccountProgram(
            participant_id=row["id"],
            program_id=row["program_id"],
            program_name=row["program_name"],
            person=(
                person_name(row["user_traits"], row["email"])
                or row["email"]
                or row["user_external_id"]
            ),
            person_email=row["email"],
            state=row["state"],
            enrolled_at=as_utc_datetime(row["enrolled_at"]),
            finished_at=as_utc_datetime(row["finished_at"]),
            exit_reason=row["exit_reason"],
            skipped_reason=row["skipped_reason"],
            steps=steps.get(row["id"], []),
        )
        for row in await queries.PARTICIPANTS_OF_ACCOUNT.fetch(account_id)
    ]
