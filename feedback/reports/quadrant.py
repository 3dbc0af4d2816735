"""The ARR x NPS quadrant: each account placed by its revenue and its NPS, to prioritise.

Quadrants are named by the action they call for:
- `protect`: high ARR, low NPS - revenue at risk, act first;
- `advocate`: high ARR, high NPS - ask for references and case studies, expand;
- `grow`: low ARR, high NPS - happy and small, upsell;
- `fix`: low ARR, low NPS - fix the experience at scale (low-touch).

The report answers every account (its page draws each as a dot): the database counts per
account and hands the result over a column at a time (`report_columns`: no Python object
per row), the per-account arithmetic (NPS, interval, quadrant, order, totals) is done on
NumPy arrays, and each account becomes one small msgspec struct, which the garbage collector
does not track and which encodes straight to JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from analytics.nps import nps_interval_arrays
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.principal import Principal
from feedback.reports.queries import add_scope, quadrant_sql
from feedback.reports.services import check_environment, report_columns

# in this order: protect first in the list of accounts, then the rest by ARR
QUADRANTS = ("protect", "advocate", "grow", "fix")

COLUMNS = ("account_id", "name", "arr_cents", "csm_email", "responses", "promoters", "detractors")


def quadrants_of(high_arr: NDArray[np.bool_], high_nps: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Each account's quadrant, as its position in QUADRANTS: high ARR and low NPS is
    protect, high both advocate, low ARR and high NPS grow, low both fix."""
    return np.where(high_arr, np.where(high_nps, 1, 0), np.where(high_nps, 2, 3))


class QuadrantAccount(msgspec.Struct, gc=False):
    """One account as the report shows it (its JSON object has these keys in this order).
    Not tracked by the garbage collector: it holds no containers, so no cycles."""

    account_id: str
    name: str
    csm_email: str | None
    arr: float
    responses: int
    nps: float
    ci_low: float | None
    ci_high: float | None
    precision: str
    quadrant: str


class QuadrantTotals(msgspec.Struct, gc=False):
    """The accounts of one quadrant and their ARR."""

    accounts: int
    arr: float


class QuadrantReport(msgspec.Struct):
    """The report (`quadrant_report`); its JSON object has these keys in this order."""

    nps_threshold: float
    arr_threshold: float
    quadrants: dict[str, QuadrantTotals]  # in QUADRANTS' order
    accounts: list[QuadrantAccount]


def median(values: NDArray[np.float64]) -> float:
    """The middle value, or the mean of the two middle ones (as `statistics.median`)."""
    ordered = np.sort(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def rounded(values: NDArray[np.float64], digits: int = 2) -> list[float | None]:
    """`round(x, digits)` of each value, None for NaN, exactly as Python rounds a float (the
    decimal nearest to its exact binary value, half to even). `rint(x * 10**digits)` agrees
    with that except where the product lands within its rounding error of a half; those few
    are left to Python."""
    scale = 10.0**digits
    with np.errstate(invalid="ignore"):
        scaled = values * scale
        near_half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    out: list[float | None] = (np.rint(scaled) / scale).tolist()
    for i in np.flatnonzero(near_half).tolist():
        out[i] = round(float(values[i]), digits)
    for i in np.flatnonzero(np.isnan(values)).tolist():
        out[i] = None
    return out


async def quadrant_report(
    principal: Principal,
    nps_threshold: float = 0.0,
    arr_threshold: float | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
    environment: str = PRODUCTION,
) -> QuadrantReport:
    """`arr_threshold` in currency units; by default the median ARR of the accounts shown.
    An account's NPS is on its responses in the period and environment; the interval says
    how sure it is.
    `accounts` are QuadrantAccount structs, protect first, then by ARR, largest first."""
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    check_environment(environment)
    add_scope(where, args, principal, date_from, date_to, environment)
    columns = await report_columns(quadrant_sql(principal, where), *args, columns=COLUMNS)
    arr_cents, n, promoters, detractors = (
        np.array(columns[name], dtype=np.int64)
        for name in ("arr_cents", "responses", "promoters", "detractors")
    )
    arr = arr_cents / 100
    threshold = arr_threshold if arr_threshold is not None else (median(arr) if len(arr) else 0.0)
    intervals = nps_interval_arrays(
        np.column_stack((promoters, n - promoters - detractors, detractors)),
        confidence=confidence,
    )
    # every account has answers (n >= 1): its NPS is shown even where its interval is not
    nps = 100 * (promoters - detractors) / n
    quadrant = quadrants_of(arr >= threshold, nps >= nps_threshold)
    accounts = list(
        map(
            QuadrantAccount,
            columns["account_id"],
            columns["name"],
            columns["csm_email"],
            arr.tolist(),
            n.tolist(),
            rounded(nps),
            rounded(intervals.ci_low),
            rounded(intervals.ci_high),
            intervals.precision,
            [QUADRANTS[q] for q in quadrant.tolist()],
        )
    )
    # the accounts to look at first: most revenue at risk (a stable sort: ties keep the
    # database's order)
    order = np.lexsort((-arr, quadrant != 0))
    accounts = [accounts[i] for i in order.tolist()]
    arr, quadrant = arr[order], quadrant[order]
    summary: dict[str, QuadrantTotals] = {}
    for position, name in enumerate(QUADRANTS):
        members = arr[quadrant == position].tolist()
        # added one by one in the accounts' order, as the totals always were
        summary[name] = QuadrantTotals(len(members), sum(members))
    return QuadrantReport(nps_threshold, threshold, summary, accounts)
