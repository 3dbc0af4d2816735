"""Doing the due steps of participants: each participant in its own write transaction, locked,
so the step's effect (a queued mail, a CTA, a Slack message), the record of the step and the
participant's progress commit together or not at all (and so does the webhooks'
`program.completed` of a participant who completes). Two workers never do a step twice:
the second finds the participant moved on (or waits for the lock, then does).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from feedback.ctas.signals import Signal, raise_signal
from feedback.db import as_utc_datetime, write_transaction
from feedback.mail.enqueue import (
    MailRefusal,
    NewMail,
    enqueue_mail,
    normalize_address,
    suppression_of,
    unsubscribe_url,
)
from feedback.outbox.enqueue import enqueue_notice
from feedback.programs import queries
from feedback.programs.definitions import Definition
from feedback.programs.machine import (
    Complete,
    Done,
    Exit,
    Hold,
    Idle,
    Leave,
    Outcome,
    Progress,
    RetryAt,
    Run,
    after,
    finish,
    next_move,
)
from feedback.programs.models import ParticipantState
from feedback.programs.stored import load_definition
from feedback.programs.templates import TemplateProblem, locale_of, render, render_email
from feedback.programs.variables import owner_of, participant_variables, person_name
from feedback.webhooks.events import record_event
from feedback.webhooks.models import EventType

log = logging.getLogger("feedback.programs")

BATCH = 200  # participants per run of the job
FAILURE_BACKOFF = timedelta(hours=1)  # a participant whose step raised waits this long


class StepDoneAlready(Exception):
    """The step's record exists: another worker did it (the transaction rolls back)."""


def _progress(row: dict[str, Any]) -> Progress:
    return Progress(
        state=row["state"],
        step_index=row["step_index"],
        next_run_at=as_utc_datetime(row["next_run_at"]),
        exit_reason=row["exit_reason"],
        skipped_reason=row["skipped_reason"],
        finished_at=as_utc_datetime(row["finished_at"]),
    )


async def exit_reason(row: dict[str, Any], exits: tuple[str, ...]) -> str | None:
    """The first exit condition of the program that holds for the participant, or None."""
    for condition in exits:
        if condition == "churned" and row["account_status"] == "churned":
            return "churned"
        if (
            condition == "unsubscribed"
            and row["email"]
            and await suppression_of(row["email"]) is not None
        ):
            return "unsubscribed"
        if condition == "answered" and row["end_user_id"] is not None:
            enrolled_at = as_utc_datetime(row["enrolled_at"])
            if await queries.ANSWERED_SINCE.first(row["end_user_id"], enrolled_at):
                return "answered"
        if condition == "cta_closed":
            closed = await queries.CTA_CLOSED.first(
                row["account_id"], row["cta_id"], row["id"], row["response_id"]
            )
            if closed:
                return "cta_closed"
    return None


class _StepContext:
    """What a participant's steps share within one run: the variables, made once."""

    def __init__(self, row: dict[str, Any], program_id: int, definition: Definition) -> None:
        self.row = row
        self.program_id = program_id
        self.definition = definition
        self._variables: dict[str, Any] | None = None
        self.owner_name = ""
        self.owner_email: str | None = None

    async def variables(self) -> dict[str, Any]:
        if self._variables is None:
            owner = await owner_of(self.row["account_id"], self.row["csm_id"])
            self.owner_name, self.owner_email = owner.name, owner.email
            address = normalize_address(self.row["email"] or "")
            unsubscribe = unsubscribe_url(address) if address else ""
            self._variables = participant_variables(
                self.row, owner, self.definition.name, unsubscribe
            )
        return self._variables

    def key(self, index: int) -> str:
        return f"program:{self.program_id}:participant:{self.row['id']}:step:{index}"


async def _do_step(
    context: _StepContext, run: Run, now: datetime
) -> tuple[Outcome, dict[str, int]]:
    """The step's effect, in the caller's transaction, and what came of it."""
    step, row = run.step, context.row
    if step.kind == "wait":
        return Done("waited"), {}
    if step.kind == "email":
        if row["end_user_id"] is None:
            return Done("skipped:no_person", skipped_reason="no_person"), {}
        address = normalize_address(row["email"] or "")
        if address is None:
            return Done("refused:invalid_address", skipped_reason="no_valid_email"), {}
        variables = await context.variables()
        locale = locale_of(row["locale"], context.definition.locale_default)
        try:
            mail = render_email(step, variables, locale)
        except TemplateProblem as problem:
            log.warning("participant %s step %s: %s", row["id"], run.index, problem)
            return Done("refused:template", skipped_reason="template_error"), {}
        queued = await enqueue_mail(
            NewMail(
                key=context.key(run.index),
                to_address=address,
                to_name=person_name(row["user_traits"], address),
                from_name=context.owner_name,
                reply_to=context.owner_email,
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                end_user_id=row["end_user_id"],
                program_id=context.program_id,
                participant_id=row["id"],
                locale=mail.locale,
            ),
            now,
        )
        if queued.refused is None or queued.refused == MailRefusal.duplicate:
            return Done("sent"), ({"mail_id": queued.mail_id} if queued.mail_id else {})
        if queued.refused == MailRefusal.suppressed:
            return Leave("unsubscribed"), {}
        if queued.refused == MailRefusal.throttled and queued.retry_at is not None:
            return RetryAt(queued.retry_at), {}
        return Done(f"refused:{queued.refused}", skipped_reason="no_valid_email"), {}
    variables = await context.variables()
    if step.kind == "cta":
        cta_id, _ = await raise_signal(
            Signal(
                account_id=row["account_id"],
                type=step.cta_type,
                reason=" ".join(render(step.reason, variables).split()),
                detail=render(step.detail, variables),
                priority=step.priority,
                due_on=(now + timedelta(days=step.due_days)).date(),
                trigger={
                    "kind": "program",
                    "program_id": context.program_id,
                    "participant_id": row["id"],
                    **({"response_id": row["response_id"]} if row["response_id"] else {}),
                },
                actor=f"program: {context.definition.name}"[:200],
            ),
            now,
        )
        return Done(f"cta:{cta_id}"), {"cta_id": cta_id}
    if step.kind == "slack":
        await enqueue_notice(
            step.channel, render(step.text, variables), context.key(run.index), now
        )
        return Done("posted"), {}
    raise ValueError(f"no effect for a {step.kind} step")


async def run_participant(participant_id: int, now: datetime) -> int:
    """Do every step of the participant that is due at `now` (up to a wait, a held mail, an
    exit or the end). Returns the number of steps done."""
    done = 0
    async with write_transaction():
        row = await queries.PARTICIPANT_FOR_UPDATE.first(participant_id)
        if row is None or row["state"] != ParticipantState.active:
            return 0
        loaded = await load_definition(row["program_id"])
        if loaded is None or not loaded.enabled:
            return 0
        definition = loaded.definition
        steps = definition.steps
        context = _StepContext(row, row["program_id"], definition)
        progress = start = _progress(row)
        for _ in range(len(steps) + 1):
            reason = await exit_reason(row, definition.exit_conditions)
            move = next_move(progress, steps, now, reason)
            if isinstance(move, Hold | Idle):
                break
            if isinstance(move, Exit | Complete):
                progress = finish(progress, move, now)
                break
            outcome, ids = await _do_step(context, move, now)
            if isinstance(outcome, Done):
                recorded = await queries.RECORD_STEP.first(
                    row["id"],
                    move.index,
                    move.step.kind,
                    outcome.result[:100],
                    ids.get("mail_id"),
                    ids.get("cta_id"),
                    now,
                )
                if recorded is None:
                    raise StepDoneAlready(f"participant {row['id']} step {move.index}")
                done += 1
            elif isinstance(outcome, Leave):
                # the step was not done; the person left (e.g. unsubscribed meanwhile)
                pass
            progress = after(progress, move, outcome, now)
        if progress != start:
            await queries.SET_PROGRESS.run(
                progress.state,
                progress.step_index,
                progress.next_run_at,
                progress.exit_reason,
                progress.skipped_reason,
                progress.finished_at,
                row["id"],
            )
            if progress.state == ParticipantState.completed:
                await record_event(EventType.program_completed, row["id"], occurred_at=now)
    return done


async def run_due(now: datetime, limit: int = BATCH) -> int:
    """The due steps of up to `limit` participants; the number of steps done."""
    done = 0
    for each in await queries.DUE_PARTICIPANTS.fetch(now, limit):
        try:
            done += await run_participant(each["id"], now)
        except StepDoneAlready:
            continue
        except Exception:
            log.exception("program participant %s failed; trying again later", each["id"])
            async with write_transaction():
                await queries.POSTPONE.run(now + FAILURE_BACKOFF, each["id"])
    return done
