"""NPS trends by segment: the largest segments, the rest grouped, and each segment's change
from one period to the next.

* :func:`split_top` - the ``top`` segments by answers, the others summed into one "Other"
  series and every answer summed into "All", so the shown series add up to the total.
* :func:`periods_between` - every quarter (``2026-Q1``) or month (``2026-01``) from one to
  another, so a period without answers is a gap on the chart, not a missing tick.
* :func:`period_change` - the last period against the one before with
  :func:`analytics.compare.compare_nps` (independent samples, Wald interval), or the reason
  there is none (too few answers in either period).

This module imports only the standard library and ``analytics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from analytics.compare import NPSComparison, compare_nps
from analytics.nps import COUNTS_ONLY_BELOW

Counts = tuple[int, int, int]  # promoters, passives, detractors
Kind = Literal["all", "segment", "other"]
NO_COUNTS: Counts = (0, 0, 0)


@dataclass(frozen=True)
class SeriesCounts:
    """One line of the trend: a segment (``key`` None for the answers without a value),
    "Other" (``members`` names the segments it sums) or "All"."""

    kind: Kind
    key: str | None
    by_period: dict[str, Counts]
    members: tuple[str | None, ...] = field(default=())

    @property
    def responses(self) -> int:
        return sum(sum(c) for c in self.by_period.values())


def _add(a: Counts, b: Counts) -> Counts:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _order(key: str | None) -> tuple[bool, str]:
    return (key is None, key or "")


def split_top(rows: Iterable[tuple[str | None, str, Counts]], top: int) -> list[SeriesCounts]:
    """`rows` are (segment, period, counts), one per segment and period. Answers: "All"
    first, then the `top` segments by their answers over every period (ties by name, the
    answers without a value last), then "Other" when any segment is left over."""
    if top < 1:
        raise ValueError("top must be at least 1")
    by_key: dict[str | None, dict[str, Counts]] = {}
    for key, period, counts in rows:
        periods = by_key.setdefault(key, {})
        periods[period] = _add(periods.get(period, NO_COUNTS), counts)
    totals = {key: sum(sum(c) for c in periods.values()) for key, periods in by_key.items()}
    ranked = sorted(by_key, key=lambda k: (-totals[k], *_order(k)))
    shown, rest = ranked[:top], sorted(ranked[top:], key=_order)
    everyone: dict[str, Counts] = {}
    for periods in by_key.values():
        for period, counts in periods.items():
            everyone[period] = _add(everyone.get(period, NO_COUNTS), counts)
    result = [SeriesCounts("all", None, everyone)]
    result += [SeriesCounts("segment", key, by_key[key]) for key in shown]
    if rest:
        other: dict[str, Counts] = {}
        for key in rest:
            for period, counts in by_key[key].items():
                other[period] = _add(other.get(period, NO_COUNTS), counts)
        result.append(SeriesCounts("other", None, other, tuple(rest)))
    return result


def periods_between(first: str, last: str, kind: Literal["quarter", "month"]) -> list[str]:
    """Every period label from `first` to `last`, both included (`2025-Q4`, `2026-Q1`, ...
    or `2025-12`, `2026-01`, ...)."""
    per_year = 4 if kind == "quarter" else 12

    def index(label: str) -> int:
        year, part = label.split("-")
        return int(year) * per_year + int(part.removeprefix("Q")) - 1

    def label(i: int) -> str:
        year, part = divmod(i, per_year)
        return f"{year}-Q{part + 1}" if kind == "quarter" else f"{year}-{part + 1:02d}"

    return [label(i) for i in range(index(first), index(last) + 1)]


@dataclass(frozen=True)
class PeriodChange:
    """The last period against the one before: the comparison, or why there is none."""

    last: Counts
    previous: Counts
    comparison: NPSComparison | None
    too_few: tuple[str, ...]  # "last" and/or "previous": under `min_answers` answers


def period_change(
    previous: Counts,
    last: Counts,
    confidence: float = 0.95,
    min_answers: int = COUNTS_ONLY_BELOW,
) -> PeriodChange:
    """`last - previous` by :func:`compare_nps`. The two periods' answers are treated as
    independent samples (an account answering in both makes them slightly dependent, which
    the Wald interval ignores). A period with fewer than `min_answers` answers (the reports'
    "counts only" limit) gets no comparison: its NPS is not shown either."""
    too_few = tuple(
        name
        for name, counts in (("last", last), ("previous", previous))
        if sum(counts) < min_answers
    )
    comparison = None if too_few else compare_nps(last, previous, confidence)
    return PeriodChange(last, previous, comparison, too_few)


def significant_changes(p_values: Sequence[float | None], q: float) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values over the comparisons that exist (None stays
    None): with five segments, one in four scans would show a chance "significant" change at
    p < 0.05 each; the adjustment keeps the share of false ones at `q`."""
    from analytics.compare import benjamini_hochberg

    present = [p for p in p_values if p is not None]
    adjusted = iter(benjamini_hochberg(present, q).adjusted)
    return [None if p is None else next(adjusted) for p in p_values]
