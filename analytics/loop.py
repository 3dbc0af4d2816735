"""Closing the loop with detractors: how many of their follow-ups were closed, how fast, how
they ended, and whether the account's next answer came back as a passive or a promoter.

A *case* is one follow-up of a detractor answer (in the service: a risk CTA an answer
raised). Per group of cases:

* loop closure: closed cases over all cases, with Wilson's (1927) score interval
  (:func:`analytics.churn_segments.wilson_interval`);
* the median time to close, in hours, of the closed cases (cases still open are not in it:
  with many of them open it understates the wait, which the closure rate shows);
* the outcomes of the closed cases (``none`` for a case closed without one);
* recovered detractors: of the closed cases whose account answered again after the close
  (``followed_up``), those whose next answer was a 7 or more (passive or promoter, Reichheld
  2003's categories, :data:`analytics.nps.PASSIVE_MIN`), with the share's Wilson interval; and
  how many distinct accounts that is.

This module imports only the standard library and the analytics package.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from analytics.churn_segments import wilson_interval
from analytics.nps import PASSIVE_MIN, check_confidence

NO_OUTCOME = "none"


@dataclass(frozen=True, slots=True)
class LoopCase:
    """One detractor follow-up: its account, whether and how fast (hours) it was closed, its
    outcome, and the score of the account's first answer after the close (None: none yet)."""

    account: int
    closed: bool
    hours_to_close: float | None = None
    outcome: str | None = None
    next_score: int | None = None


@dataclass(frozen=True, slots=True)
class Share:
    """`count` of `total`, its share (0..1) and Wilson interval; None without a total."""

    count: int
    total: int
    share: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class LoopSummary:
    """What :func:`loop_summary` says of a group of cases (every number finite or None)."""

    cases: int
    closed: int
    closure: Share  # closed of cases
    median_hours_to_close: float | None
    outcomes: dict[str, int]  # closed cases per outcome; `none` when closed without one
    followed_up: int  # closed cases whose account answered again since
    recovered: int  # ... with a next answer of 7 or more
    recovery: Share  # recovered of followed_up
    recovered_accounts: int  # distinct accounts among the recovered cases


def share(count: int, total: int, confidence: float = 0.95) -> Share:
    """`count` of `total` with Wilson's score interval (None without a total)."""
    if not 0 <= count <= total:
        raise ValueError(f"share: need 0 <= count <= total, got {count} of {total}")
    if total == 0:
        return Share(count, total, None, None, None)
    low, high = wilson_interval(count, total, confidence)
    return Share(count, total, count / total, low, high)


def recovered(next_score: int | None) -> bool:
    """Whether an account's next answer is that of a passive or a promoter (7 to 10)."""
    return next_score is not None and next_score >= PASSIVE_MIN


def loop_summary(cases: Iterable[LoopCase], confidence: float = 0.95) -> LoopSummary:
    """Closure, time to close, outcomes and recovery of a group of cases (module docstring).

    An open case carries no time to close, outcome or next answer: those of a case that is not
    closed are ignored."""
    check_confidence(confidence)
    items = list(cases)
    closed = [c for c in items if c.closed]
    hours = [c.hours_to_close for c in closed if c.hours_to_close is not None]
    for value in hours:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"loop_summary: hours_to_close must be finite and >= 0, got {value}")
    outcomes = Counter(c.outcome or NO_OUTCOME for c in closed)
    followed = [c for c in closed if c.next_score is not None]
    won_back = [c for c in followed if recovered(c.next_score)]
    return LoopSummary(
        cases=len(items),
        closed=len(closed),
        closure=share(len(closed), len(items), confidence),
        median_hours_to_close=statistics.median(hours) if hours else None,
        outcomes=dict(sorted(outcomes.items())),
        followed_up=len(followed),
        recovered=len(won_back),
        recovery=share(len(won_back), len(followed), confidence),
        recovered_accounts=len({c.account for c in won_back}),
    )
