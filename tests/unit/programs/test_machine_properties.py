"""The participant state machine, driven by random programs, clocks and outcomes: no step
is done twice, nothing happens after an exit, and every wait is respected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.programs.definitions import EmailTemplate, Step
from feedback.programs.machine import (
    Complete,
    Done,
    Exit,
    Hold,
    Idle,
    Leave,
    Progress,
    RetryAt,
    Run,
    after,
    finish,
    next_move,
)

START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
EMAIL = Step("email", templates={"en": EmailTemplate("s", "t", "h")})

steps_strategy = st.lists(
    st.one_of(
        st.just(EMAIL),
        st.builds(lambda d: Step("wait", days=d), st.integers(0, 40)),
        st.just(Step("cta", cta_type="risk", reason="r")),
        st.just(Step("slack", text="t")),
    ),
    min_size=1,
    max_size=8,
).flatmap(lambda body: st.sampled_from([body, [*body, Step("end")]]))

# one tick of the worker: how far the clock moved, whether an exit condition holds now, and
# what a step run in this tick comes to (sent, throttled for some hours, unsubscribed)
tick = st.tuples(
    st.integers(0, 60 * 24 * 12),  # minutes
    st.booleans() | st.none(),  # None: no exit; True: an exit condition holds from now on
    st.sampled_from(["done", "throttled", "leave", "skipped"]),
    st.integers(1, 24 * 10),  # hours a throttled mail waits
)


@settings(max_examples=400, deadline=None)
@given(steps=steps_strategy, ticks=st.lists(tick, min_size=1, max_size=40))
def test_no_step_twice_exits_hold_and_waits_are_respected(
    steps: list[Step], ticks: list[tuple[int, bool | None, str, int]]
) -> None:
    progress = Progress(state="active", step_index=0, next_run_at=START)
    now = START
    done: list[tuple[int, datetime]] = []
    done_in_tick: list[int] = []
    exited_at: datetime | None = None
    exit_holds = False
    exit_tick: int | None = None  # the tick from which an exit condition holds
    active_then = False
    for tick_no, (minutes, exit_now, outcome_kind, hours) in enumerate(ticks):
        now += timedelta(minutes=minutes)
        if exit_now and not exit_holds:
            exit_tick, active_then = tick_no, progress.state == "active"
        exit_holds = exit_holds or bool(exit_now)
        for _ in range(len(steps) + 1):  # what one run of the worker does
            move = next_move(progress, steps, now, "answered" if exit_holds else None)
            if isinstance(move, Hold | Idle):
                break
            if isinstance(move, Exit | Complete):
                progress = finish(progress, move, now)
                if isinstance(move, Exit):
                    exited_at = now
                break
            assert isinstance(move, Run)
            outcome: Done | RetryAt | Leave
            if move.step.kind == "email" and outcome_kind == "throttled":
                outcome = RetryAt(now + timedelta(hours=hours))
            elif move.step.kind == "email" and outcome_kind == "leave":
                outcome = Leave("unsubscribed")
                exited_at = now
            elif outcome_kind == "skipped":
                outcome = Done("skipped:no_valid_email", skipped_reason="no_valid_email")
            else:
                outcome = Done("sent")
            if isinstance(outcome, Done):
                done.append((move.index, now))
                done_in_tick.append(tick_no)
            progress = after(progress, move, outcome, now)
            if isinstance(outcome, RetryAt):
                assert progress.next_run_at is not None and progress.next_run_at >= now
                break
    indexes = [index for index, _ in done]
    # no step twice, and in order
    assert indexes == sorted(set(indexes))
    # exits hold: no step once an exit condition holds, and the participant exits
    if exit_tick is not None:
        assert all(n < exit_tick for n in done_in_tick)
        if active_then:
            assert progress.state == "exited"
    if exited_at is not None:
        assert all(at <= exited_at for _, at in done)
        assert progress.state == "exited"
        assert next_move(progress, steps, now + timedelta(days=400), None) == Idle()
    # waits respected: the step after a wait of N days comes N days after the wait began
    began = dict(done)
    for index, at in done:
        if index > 0 and steps[index - 1].kind == "wait" and index - 1 in began:
            assert at >= began[index - 1] + timedelta(days=steps[index - 1].days)
    # no step after an end step, ever
    if any(step.kind == "end" for step in steps):
        end = next(n for n, step in enumerate(steps) if step.kind == "end")
        assert all(index < end for index in indexes)


def test_a_step_that_is_not_the_next_one_is_refused() -> None:
    progress = Progress(state="active", step_index=1, next_run_at=START)
    try:
        after(progress, Run(0, EMAIL), Done("sent"), START)
    except ValueError:
        return
    raise AssertionError("a step done again was accepted")


def test_a_retry_in_the_past_is_due_now_not_earlier() -> None:
    progress = Progress(state="active", step_index=0, next_run_at=START)
    moved = after(progress, Run(0, EMAIL), RetryAt(START - timedelta(days=1)), START)
    assert moved.next_run_at == START and moved.step_index == 0
