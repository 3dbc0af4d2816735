"""Managing programs: create, change, switch on and off, archive; enrol by hand; preview an
email for a sample participant and send it to yourself; the numbers of a program's page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import Cta
from feedback.ctas.rule_settings import cta_types
from feedback.db import as_utc_datetime, write_transaction
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.mail.enqueue import NewMail, Queued, enqueue_mail
from feedback.mail.models import MailKind
from feedback.programs import queries
from feedback.programs.definitions import (
    LOCALES,
    Definition,
    audience_json,
    parse_definition,
    steps_json,
)
from feedback.programs.models import Participant, Program
from feedback.programs.stored import StoredProgram, load_definition, load_programs
from feedback.programs.templates import RenderedEmail, check_templates, render_email
from feedback.programs.templates import sample_variables as sample
from feedback.programs.triggers import Enrolment, enrol


async def checked_definition(data: dict[str, Any]) -> Definition:
    """The definition, refused (InputError naming the field) when it makes no sense, a
    template does not render, or a CTA step names an unknown type."""
    definition = parse_definition(data)
    types = await cta_types()
    for n, step in enumerate(definition.steps):
        if step.kind == "cta" and step.cta_type not in types:
            raise InputError(f"steps[{n}].type", f"unknown CTA type; types: {', '.join(types)}")
    check_templates(definition)
    return definition


def _columns(definition: Definition) -> dict[Any, Any]:
    return {
        Program.name: definition.name,
        Program.description: definition.description,
        Program.trigger_kind: definition.trigger_kind,
        Program.trigger_params: dict(definition.trigger_params),
        Program.audience: audience_json(definition.audience),
        Program.steps: steps_json(definition.steps),
        Program.exit_conditions: list(definition.exit_conditions),
        Program.locale_default: definition.locale_default,
    }


async def _name_taken(name: str, other_than: int | None = None) -> bool:
    query = Program.select(Program.id).where(Program.name == name)
    if other_than is not None:
        query = query.where(Program.id != other_than)
    return await query.first() is not None


async def create_program(
    data: dict[str, Any], now: datetime, *, enabled: bool = False, slug: str | None = None
) -> StoredProgram:
    definition = await checked_definition(data)
    if await _name_taken(definition.name):
        raise Conflict.for_field("name", f"a program named {definition.name!r} exists")
    columns = {column._meta.name: value for column, value in _columns(definition).items()}
    row = Program(
        slug=slug, enabled=enabled, archived=False, created_at=now, updated_at=now, **columns
    )
    await row.save()
    return await get_program(row.id)


async def get_program(program_id: int) -> StoredProgram:
    program = await load_definition(program_id)
    if program is None:
        raise NotFound(f"no program {program_id}")
    return program


async def update_program(program_id: int, data: dict[str, Any], now: datetime) -> StoredProgram:
    """The program's new definition; participants go on at their step index (a changed
    program applies to the steps they have not done yet)."""
    await get_program(program_id)
    definition = await checked_definition(data)
    if await _name_taken(definition.name, program_id):
        raise Conflict.for_field("name", f"a program named {definition.name!r} exists")
    await Program.update({**_columns(definition), Program.updated_at: now}).where(
        Program.id == program_id
    )
    return await get_program(program_id)


async def set_enabled(program_id: int, enabled: bool, now: datetime) -> StoredProgram:
    program = await get_program(program_id)
    if program.archived and enabled:
        raise Conflict("an archived program cannot be switched on")
    await Program.update({Program.enabled: enabled, Program.updated_at: now}).where(
        Program.id == program_id
    )
    return await get_program(program_id)


async def remove_program(program_id: int, now: datetime) -> str:
    """Deleted when nobody was ever enrolled, else archived (switched off, hidden from the
    list, its participants and their history kept): "deleted" or "archived"."""
    await get_program(program_id)
    async with write_transaction():
        anyone = (
            await Participant.select(Participant.id)
            .where(Participant.program == program_id)
            .first()
        )
        if anyone is None:
            await Program.delete().where(Program.id == program_id)
            return "deleted"
        await Program.update(
            {Program.archived: True, Program.enabled: False, Program.updated_at: now}
        ).where(Program.id == program_id)
    return "archived"


# ------------------------------------------------------------------------ enrolling by hand


async def enrol_by_hand(
    program_id: int,
    account_external_id: str,
    user_external_id: str | None,
    cta_id: int | None,
    actor: str,
    now: datetime,
    can_see_csm: Any = None,
) -> int:
    """Enrol an account (or one of its people) by hand; the participant's id. The audience
    filter does not apply: a person chose them. `can_see_csm(csm_id)` limits the accounts."""
    program = await get_program(program_id)
    if program.archived:
        raise Conflict("the program is archived")
    account = (
        await Account.select(Account.id, Account.csm)
        .where(Account.external_id == account_external_id)
        .first()
    )
    if account is None or (can_see_csm is not None and not can_see_csm(account["csm"])):
        raise InputError("account_external_id", f"no account {account_external_id!r}")
    user_id = None
    if user_external_id:
        user = (
            await EndUser.select(EndUser.id)
            .where(EndUser.external_id == user_external_id, EndUser.account == account["id"])
            .first()
        )
        if user is None:
            raise InputError("user_external_id", f"no user {user_external_id!r} in that account")
        user_id = user["id"]
    if cta_id is not None:
        cta = await Cta.select(Cta.id, Cta.account).where(Cta.id == cta_id).first()
        if cta is None or cta["account"] != account["id"]:
            raise InputError("cta_id", f"no CTA {cta_id} on that account")
    who = f"user:{user_id}" if user_id else f"account:{account['id']}"
    key = f"manual:cta:{cta_id}:{who}" if cta_id else f"manual:{who}:{now.isoformat()}"
    participant = await enrol(
        program_id,
        Enrolment(account["id"], user_id, key, cta_id=cta_id),
        now,
        by=actor,
    )
    if participant is None:
        raise Conflict("already in this program (or enrolled from this CTA before)")
    return participant


# ------------------------------------------------------------------- previews and test sends


def _email_step(program: StoredProgram, step_index: int) -> Any:
    steps = program.definition.steps
    if not 0 <= step_index < len(steps):
        raise NotFound.for_field("step", f"no step {step_index + 1} in program {program.id}")
    step = steps[step_index]
    if step.kind != "email":
        raise InputError("step", f"step {step_index + 1} is a {step.kind} step, not an email")
    return step


async def preview_email(program_id: int, step_index: int, locale: str = "en") -> RenderedEmail:
    if locale not in LOCALES:
        raise InputError("locale", f"one of: {', '.join(LOCALES)}")
    program = await get_program(program_id)
    step = _email_step(program, step_index)
    return render_email(step, sample(program.definition.name, locale), locale)


async def test_send(
    program_id: int, step_index: int, locale: str, to_address: str, to_name: str, now: datetime
) -> Queued:
    """The step's email for the sample participant, to a staff user (kind "test": no
    consent rules, no throttle)."""
    email = await preview_email(program_id, step_index, locale)
    async with write_transaction():
        queued = await enqueue_mail(
            NewMail(
                key=f"test:{program_id}:{step_index}:{to_address}:{now.isoformat()}",
                to_address=to_address,
                to_name=to_name,
                from_name=sample("", locale)["owner"]["name"],
                reply_to=to_address,
                subject=f"[Test] {email.subject}",
                text=email.text,
                html=email.html,
                kind=MailKind.test.value,
                program_id=program_id,
                locale=email.locale,
            ),
            now,
        )
    if queued.refused is not None:
        raise InputError("to", f"cannot send a test there: {queued.refused} {queued.detail}")
    return queued


# ------------------------------------------------------------------------------- numbers


@dataclass
class StepNumbers:
    step_index: int
    kind: str
    label: str
    done: int = 0
    # email steps: mails queued by status (pending, sending, sent, dead) and refusals
    mails: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    ctas: int = 0


@dataclass
class ProgramNumbers:
    enrolled: int = 0
    active: int = 0
    completed: int = 0
    exited: int = 0
    exited_by_reason: dict[str, int] = field(default_factory=dict)
    unsubscribed: int = 0
    ctas_raised: int = 0
    mails_sent: int = 0
    mails_queued: int = 0
    steps: list[StepNumbers] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def participant_counts() -> dict[int, dict[str, int]]:
    """Per program: enrolled, active, completed, exited."""
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: {"enrolled": 0, "active": 0, "completed": 0, "exited": 0}
    )
    for row in await queries.PARTICIPANT_COUNTS.fetch():
        each = counts[row["program"]]
        each["enrolled"] += row["count"]
        each[row["state"]] = each.get(row["state"], 0) + row["count"]
    return dict(counts)


async def program_numbers(program: StoredProgram) -> ProgramNumbers:
    numbers = ProgramNumbers()
    for row in await queries.PARTICIPANT_COUNTS.fetch():
        if row["program"] != program.id:
            continue
        numbers.enrolled += row["count"]
        setattr(numbers, row["state"], getattr(numbers, row["state"]) + row["count"])
        if row["state"] == "exited":
            reason = row["exit_reason"] or "unknown"
            by_reason = numbers.exited_by_reason
            by_reason[reason] = by_reason.get(reason, 0) + row["count"]
    numbers.unsubscribed = numbers.exited_by_reason.get("unsubscribed", 0)
    steps = [
        StepNumbers(n, step.kind, step.describe())
        for n, step in enumerate(program.definition.steps)
    ]
    for row in await queries.STEP_COUNTS.fetch(program.id):
        n = row["step_index"]
        if n >= len(steps):
            continue  # a step since removed from the program
        each, count = steps[n], row["count"]
        each.done += count
        result = row["result"]
        if row["mail_status"]:
            each.mails[row["mail_status"]] = each.mails.get(row["mail_status"], 0) + count
        elif result.startswith(("refused:", "skipped:")):
            each.refused[result] = each.refused.get(result, 0) + count
        if result.startswith("cta:"):
            each.ctas += count
    numbers.steps = steps
    numbers.ctas_raised = sum(step.ctas for step in steps)
    numbers.mails_sent = sum(step.mails.get("sent", 0) for step in steps)
    numbers.mails_queued = sum(sum(step.mails.values()) for step in steps)
    return numbers


@dataclass(frozen=True)
class ParticipantRow:
    id: int
    state: str
    exit_reason: str | None
    step_index: int
    next_run_at: datetime | None
    skipped_reason: str | None
    enrolled_at: datetime | None
    enrolled_by: str
    finished_at: datetime | None
    trigger_key: str
    email: str | None
    user_external_id: str | None
    account_name: str
    account_external_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def participants_of(
    program_id: int, state: str | None = None, limit: int = 100, offset: int = 0
) -> list[ParticipantRow]:
    await get_program(program_id)
    if state is not None and state not in ("active", "completed", "exited"):
        raise InputError("state", "one of: active, completed, exited")
    rows = await queries.PARTICIPANTS_OF_PROGRAM.fetch(program_id, state, state, limit, offset)
    return [
        ParticipantRow(
            **{
                **row,
                "next_run_at": as_utc_datetime(row["next_run_at"]),
                "enrolled_at": as_utc_datetime(row["enrolled_at"]),
                "finished_at": as_utc_datetime(row["finished_at"]),
            }
        )
        for row in rows
    ]


def program_json(program: StoredProgram, counts: dict[str, int] | None = None) -> dict[str, Any]:
    definition = program.definition
    return {
        "id": program.id,
        "slug": program.slug,
        "enabled": program.enabled,
        "archived": program.archived,
        **definition_data_of(program),
        "created_at": program.created_at,
        "updated_at": program.updated_at,
        "scanned_until": program.scanned_until,
        **({"participants": counts} if counts is not None else {}),
        "step_summaries": [step.describe() for step in definition.steps],
    }


def definition_data_of(program: StoredProgram) -> dict[str, Any]:
    definition = program.definition
    return {
        "name": definition.name,
        "description": definition.description,
        "trigger": {"kind": definition.trigger_kind, "params": dict(definition.trigger_params)},
        "audience": audience_json(definition.audience),
        "steps": steps_json(definition.steps),
        "exit_conditions": list(definition.exit_conditions),
        "locale_default": definition.locale_default,
    }


async def list_programs(include_archived: bool = False) -> list[StoredProgram]:
    return await load_programs(include_archived=include_archived)
