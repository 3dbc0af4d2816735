"""A participant's way through a program's steps, as pure functions of its progress, the
steps, the time and whether an exit condition holds (the clock is the caller's).

`next_move` says what to do now: run the step at an index, hold until a moment, exit, or
complete. The runner (feedback/programs/runner.py) does the step and hands its outcome to
`after`, which says where the participant is next:

- a step done moves on to the next one; a `wait` of N days makes the next one due N days
  after the wait began;
- a step to retry later (a mail held back by the throttle) stays the next one, due then;
- a step that found the person gone (unsubscribed) exits.

A step index only grows, so no step is done twice; nothing runs once the participant has
exited or completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from feedback.programs.definitions import Step
from feedback.programs.models import ParticipantState


@dataclass(frozen=True)
class Progress:
    state: str
    step_index: int
    next_run_at: datetime | None
    exit_reason: str | None = None
    skipped_reason: str | None = None
    finished_at: datetime | None = None


# -- what to do now


@dataclass(frozen=True)
class Run:
    index: int
    step: Step


@dataclass(frozen=True)
class Hold:
    until: datetime


@dataclass(frozen=True)
class Exit:
    reason: str


@dataclass(frozen=True)
class Complete:
    pass


@dataclass(frozen=True)
class Idle:
    """Not active any more: nothing to do, ever."""


Move = Run | Hold | Exit | Complete | Idle


# -- what came of a step


@dataclass(frozen=True)
class Done:
    result: str  # sent, posted, cta:<id>, waited, skipped:<why>, refused:<why>
    skipped_reason: str | None = None


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    why: str = "throttled"


@dataclass(frozen=True)
class Leave:
    reason: str


Outcome = Done | RetryAt | Leave


def next_move(
    progress: Progress, steps: Sequence[Step], now: datetime, exit_reason: str | None
) -> Move:
    if progress.state != ParticipantState.active:
        return Idle()
    if exit_reason:
        return Exit(exit_reason)
    if progress.next_run_at is not None and progress.next_run_at > now:
        return Hold(progress.next_run_at)
    if progress.step_index >= len(steps) or steps[progress.step_index].kind == "end":
        return Complete()
    return Run(progress.step_index, steps[progress.step_index])


def after(progress: Progress, run: Run, outcome: Outcome, now: datetime) -> Progress:
    """The progress once `run` (the move `next_move` gave) had `outcome` at `now`."""
    if progress.state != ParticipantState.active or run.index != progress.step_index:
        raise ValueError("the step run is not this participant's next step")
    if isinstance(outcome, Leave):
        return exited(progress, outcome.reason, now)
    if isinstance(outcome, RetryAt):
        # never earlier than now: a retry in the past would run again at once, forever
        return replace(progress, next_run_at=max(outcome.at, now))
    due = now + timedelta(days=run.step.days) if run.step.kind == "wait" else now
    return replace(
        progress,
        step_index=run.index + 1,
        next_run_at=due,
        skipped_reason=outcome.skipped_reason or progress.skipped_reason,
    )


def exited(progress: Progress, reason: str, now: datetime) -> Progress:
    return replace(
        progress,
        state=ParticipantState.exited,
        exit_reason=reason,
        next_run_at=None,
        finished_at=now,
    )


def completed(progress: Progress, now: datetime) -> Progress:
    return replace(progress, state=ParticipantState.completed, next_run_at=None, finished_at=now)


def finish(progress: Progress, move: Exit | Complete, now: datetime) -> Progress:
    if isinstance(move, Exit):
        return exited(progress, move.reason, now)
    return completed(progress, now)
