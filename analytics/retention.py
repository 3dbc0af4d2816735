"""Retention per period from the accounts active when it starts.

For a period [start, end), the cohort is every account that was a customer before `start`
and had not churned by then. Then:

- logo retention = cohort accounts still customers at `end` / cohort accounts;
- gross revenue retention (GRR) = sum over the cohort of min(ARR at end, ARR at start) /
  ARR at start; churn and contraction lower it, expansion cannot raise it above 100%;
- net revenue retention (NRR) = sum of ARR at end / sum of ARR at start over the cohort;
  expansion counts, accounts won during the period do not.

A churned account's ARR at `end` is 0. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class Retention:
    accounts: int
    retained: int
    logo_retention: float | None
    arr_start: int
    arr_end: int
    churned_arr: int
    contraction: int
    expansion: int
    grr: float | None
    nrr: float | None


def retention(
    arr_start: Sequence[int | float], arr_end: Sequence[int | float], retained: Sequence[bool]
) -> Retention:
    """One period's figures for its cohort (ARR in any unit, e.g. cents)."""
    start = np.asarray(arr_start, dtype=float)
    kept = np.asarray(retained, dtype=bool)
    end = np.where(kept, np.asarray(arr_end, dtype=float), 0.0)
    total = float(start.sum())
    churned = float(start[~kept].sum())
    change = end - start
    contraction = float(-change[kept & (change < 0)].sum())
    expansion = float(change[kept & (change > 0)].sum())
    n = len(start)
    return Retention(
        accounts=n,
        retained=int(kept.sum()),
        logo_retention=float(kept.mean()) if n else None,
        arr_start=round(total),
        arr_end=round(float(end.sum())),
        churned_arr=round(churned),
        contraction=round(contraction),
        expansion=round(expansion),
        grr=float(np.minimum(start, end).sum() / total) if total > 0 else None,
        nrr=float(end.sum() / total) if total > 0 else None,
    )


def month_start(day: date) -> date:
    return day.replace(day=1)


def quarter_start(day: date) -> date:
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods(kind: str, first: date, last: date) -> list[tuple[str, date, date]]:
    """(label, start, end) of each month or quarter from the one holding `first` to the one
    holding `last`."""
    if kind not in ("month", "quarter"):
        raise ValueError("kind must be month or quarter")
    step = 1 if kind == "month" else 3
    start = month_start(first) if kind == "month" else quarter_start(first)
    out = []
    while start <= last:
        end = add_months(start, step)
        label = (
            f"{start.year}-{start.month:02d}"
            if kind == "month"
            else f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        )
        out.append((label, start, end))
        start = end
    return out
