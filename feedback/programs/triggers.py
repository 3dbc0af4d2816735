"""Finding whom each enabled program's trigger enrols, and enrolling them once.

Each program keeps a cursor (`scanned_until`): a scan reads what is new since it, less an
overlap for rows whose transactions committed late, and moves it on. Reading a row twice is
harmless: a participant is unique per program and trigger key, and a person already going
through a program is not enrolled in it again until they finish. Two workers scanning at
once enrol each person once.

The answer triggers (a detractor's answer, a promoter's comment) read production answers
only: a test on a staging or development key enrols nobody (docs/environments.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from feedback.db import write_transaction
from feedback.programs import queries
from feedback.programs.definitions import in_audience
from feedback.programs.stored import StoredProgram, load_programs

OVERLAP = timedelta(minutes=15)
# how far back a program's first scan looks (a program switched on reaches the last days'
# answers and new users, not the whole history)
FIRST_SCAN_LOOKBACK = timedelta(days=2)
# a user is new (the `user_added` trigger) when first seen at most this long before the
# scan's window: a user the product saw yesterday and a sync stored today is new, while an
# import of long-standing users (first seen months ago) enrols nobody
NEW_USER_ALLOWANCE = timedelta(days=2)


@dataclass(frozen=True)
class Enrolment:
    account_id: int
    end_user_id: int | None
    trigger_key: str
    response_id: int | None = None
    cta_id: int | None = None


async def enrol(
    program_id: int, enrolment: Enrolment, now: datetime, by: str = "trigger"
) -> int | None:
    """The new participant's id, or None when the trigger enrolled them already or they are
    in the program still. Runs in the caller's transaction, or in its own."""
    async with write_transaction():
        row = await queries.ENROL.first(
            program_id,
            enrolment.account_id,
            enrolment.end_user_id,
            enrolment.trigger_key[:200],
            enrolment.response_id,
            enrolment.cta_id,
            now,
            by[:200],
            now,
            program_id,
            enrolment.end_user_id,
            enrolment.end_user_id,
            enrolment.end_user_id,
            enrolment.account_id,
        )
    return None if row is None else int(row["id"])


def _facts(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "plan": row["plan"],
        "industry": row["industry"],
        "company_size": row["company_size"],
        "role": row.get("role"),
        "account_status": row["account_status"],
    }


async def candidates(program: StoredProgram, since: datetime, now: datetime) -> list[Enrolment]:
    """Whom the program's trigger names between `since` and `now`, in its audience."""
    definition = program.definition
    kind = definition.trigger_kind
    rows: Sequence[dict[str, Any]]
    found: list[Enrolment] = []
    if kind == "user_added":
        rows = await queries.USERS_ADDED.fetch(since - NEW_USER_ALLOWANCE, since, now)
        keyed = [(r, f"user:{r['end_user_id']}") for r in rows]
    elif kind == "detractor_answer":
        rows = await queries.DETRACTOR_ANSWERS.fetch(since - FIRST_SCAN_LOOKBACK, since, now)
        keyed = [(r, f"response:{r['response_id']}") for r in rows]
    elif kind == "promoter_comment":
        rows = await queries.PROMOTER_COMMENTS.fetch(since - FIRST_SCAN_LOOKBACK, since, now)
        keyed = [(r, f"response:{r['response_id']}") for r in rows]
    elif kind == "account_created":
        rows = await queries.ACCOUNTS_CREATED.fetch(since, now)
        keyed = [(r, f"account:{r['account_id']}") for r in rows]
    elif kind == "renewal_in_days":
        today = now.date()
        rows = await queries.RENEWALS_BETWEEN.fetch(
            today, today + timedelta(days=int(definition.trigger_params["days"]))
        )
        keyed = [(r, f"renewal:{r['account_id']}:{_day(r['renewal_date'])}") for r in rows]
    elif kind == "health_red":
        rows = await queries.HEALTH_TURNED_RED.fetch(since.date() - timedelta(days=1))
        keyed = [(r, f"health_red:{r['account_id']}:{_day(r['day'])}") for r in rows]
    else:  # manual: nobody is enrolled by a scan
        return []
    for row, key in keyed:
        if in_audience(definition.audience, _facts(row)):
            found.append(
                Enrolment(
                    account_id=row["account_id"],
                    end_user_id=row.get("end_user_id"),
                    trigger_key=key,
                    response_id=row.get("response_id"),
                )
            )
    return found


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


async def scan_program(program: StoredProgram, now: datetime) -> int:
    """Enrol whom the program's trigger names since its cursor; the number enrolled."""
    since = (program.scanned_until or now - FIRST_SCAN_LOOKBACK) - OVERLAP
    enrolled = 0
    async with write_transaction():
        for enrolment in await candidates(program, since, now):
            if await enrol(program.id, enrolment, now) is not None:
                enrolled += 1
        await queries.SET_SCANNED.run(now, program.id, now)
    return enrolled


async def scan_triggers(now: datetime) -> int:
    """Every enabled program's scan; the number enrolled."""
    enrolled = 0
    for program in await load_programs():
        if program.enabled and program.definition.trigger_kind != "manual":
            enrolled += await scan_program(program, now)
    return enrolled
