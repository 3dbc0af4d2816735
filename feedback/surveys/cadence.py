"""When may a user be asked? Pure rules, no I/O: the service loads the history, this decides.

- Each user has their own survey cycle of `cadence_days`, offset by a stable hash of the user
  and the schedule, so a quarter's surveys arrive evenly over the quarter instead of all on
  its first day.
- Within a cycle a user is asked at most `max_asks_per_cycle` times, answers at most once,
  and after a dismissal is left alone for `dismiss_backoff_days`.
- Sampling is decided once per user and cycle by a stable hash, so a frequent visitor is not
  re-rolled on every page view.
- Across all surveys, nobody sees two surveys within `min_days_between_surveys`.
- Someone the previous tool asked (an import's `asked_elsewhere_at`) waits a whole cadence
  from then, as if this schedule had asked them.

Every "not now" carries the earliest moment the answer could change, so the widget can stay
quiet until then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SAMPLE_RESOLUTION = 10_000  # sampling in steps of 0.01 %


@dataclass(frozen=True)
class CadenceRules:
    cadence_days: int = 90
    first_survey_after_days: int = 14
    dismiss_backoff_days: int = 30
    max_asks_per_cycle: int = 3
    sample_percent: float = 100.0
    min_days_between_surveys: int = 7
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Cycle:
    index: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class UserHistory:
    """What the service knows about one user, for one schedule and the cycle being decided."""

    first_seen_at: datetime
    # displays of this schedule in the cycle (shown, answered, dismissed or expired)
    asks_in_cycle: int = 0
    answered_in_cycle: bool = False
    last_answered_at: datetime | None = None  # this schedule, any cycle
    last_dismissed_at: datetime | None = None  # this schedule, any cycle
    last_display_at: datetime | None = None  # any survey: the global gap
    # when the tool used before this one last asked them (set by imports)
    asked_elsewhere_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    show: bool
    cycle: Cycle
    reason: str
    # when `show` is False: the earliest moment the decision could be different
    next_check_at: datetime | None = None


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) that depends only on `parts`: the same on every server, forever."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def cycle_at(now: datetime, user_key: str, schedule_key: str, cadence_days: int) -> Cycle:
    length = timedelta(days=cadence_days)
    offset = length * stable_fraction("offset", user_key, schedule_key)
    index = (now - EPOCH - offset) // length
    starts_at = EPOCH + offset + index * length
    return Cycle(index=index, starts_at=starts_at, ends_at=starts_at + length)


def is_sampled(user_key: str, schedule_key: str, cycle_index: int, percent: float) -> bool:
    threshold = round(max(0.0, min(100.0, percent)) * SAMPLE_RESOLUTION / 100)
    draw = int(stable_fraction("sample", user_key, schedule_key, cycle_index) * SAMPLE_RESOLUTION)
    return draw < threshold


def decide(
    rules: CadenceRules,
    history: UserHistory,
    now: datetime,
    user_key: str,
    schedule_key: str,
    cycle: Cycle | None = None,
) -> Decision:
    """`cycle`: this user's cycle at `now`, when the caller has it already (`cycle_at`)."""
    if cycle is None:
        cycle = cycle_at(now, user_key, schedule_key, rules.cadence_days)
    waits: list[tuple[datetime, str]] = []

    if rules.ends_at is not None and now >= rules.ends_at:
        return Decision(False, cycle, "schedule ended", None)
    if rules.starts_at is not None and now < rules.starts_at:
        waits.append((rules.starts_at, "schedule not started"))
    first_ask = history.first_seen_at + rules.first_survey_after_days * DAY
    if now < first_ask:
        waits.append((first_ask, "new user"))
    if history.answered_in_cycle:
        waits.append((cycle.ends_at, "answered this cycle"))
    if history.last_answered_at is not None:
        again = history.last_answered_at + rules.cadence_days * DAY
        if now < again:
            waits.append((again, "answered recently"))
    if history.asked_elsewhere_at is not None:
        again = history.asked_elsewhere_at + rules.cadence_days * DAY
        if now < again:
            waits.append((again, "asked by the previous tool"))
    if history.asks_in_cycle >= rules.max_asks_per_cycle:
        waits.append((cycle.ends_at, "asked enough this cycle"))
    if not is_sampled(user_key, schedule_key, cycle.index, rules.sample_percent):
        waits.append((cycle.ends_at, "not sampled this cycle"))
    if history.last_dismissed_at is not None:
        again = history.last_dismissed_at + rules.dismiss_backoff_days * DAY
        if now < again:
            waits.append((again, "dismissed recently"))
    if history.last_display_at is not None:
        again = history.last_display_at + rules.min_days_between_surveys * DAY
        if now < again:
            waits.append((again, "surveyed recently"))

    if not waits:
        return Decision(True, cycle, "eligible")
    # each condition holds at least until its own time, so none can lift before the latest
    until, reason = max(waits, key=lambda wait: wait[0])
    if rules.ends_at is not None and until >= rules.ends_at:
        return Decision(False, cycle, reason, None)
    return Decision(False, cycle, reason, until)
