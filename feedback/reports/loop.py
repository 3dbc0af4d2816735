"""Closing the loop with detractors: per CSM, pool or team, of the risk CTAs that detractor
answers raised in a period, how many were closed and how fast, how they ended, and how many
accounts answered 7 or more the next time (recovered detractors).

The arithmetic is `analytics.loop`'s; this module reads the CTAs (`feedback.ctas.reads`),
leaves out those the answer rules withdrew (the person changed their score: no loop to
close), and groups them. A CSM sees the CTAs they own or of their accounts, as on the CTA
pages. docs/closing-the-loop.md explains each figure.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from analytics.loop import LoopCase, LoopSummary, loop_summary
from feedback.ctas.models import CtaOutcome
from feedback.ctas.reads import DetractorCta, detractor_ctas
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal
from feedback.reports.services import spreadsheet_safe

GROUPS = ("csm", "pool", "team")
GROUP_LABELS = {"csm": "CSM", "pool": "Pool", "team": "Team"}
OUTCOME_COLUMNS = (*(o.value for o in CtaOutcome), "none")


@dataclass(frozen=True, slots=True)
class LoopGroup:
    """One CSM, pool or team (`key`: its id; None for the CTAs without one) and its figures."""

    key: int | None
    label: str
    summary: LoopSummary


@dataclass(frozen=True, slots=True)
class LoopReport:
    """The loop report (`loop_report`); its JSON object has these keys in this order."""

    group_by: str
    date_from: datetime | None
    date_to: datetime | None
    confidence: float
    withdrawn: int  # CTAs the answer rules closed because the score changed (left out)
    total: LoopSummary
    groups: list[LoopGroup]


def _case(cta: DetractorCta) -> LoopCase:
    hours = None
    if cta.status == "closed" and cta.closed_at is not None:
        hours = max((cta.closed_at - cta.created_at).total_seconds() / 3600, 0.0)
    closed = hours is not None
    return LoopCase(
        account=cta.account_id,
        closed=closed,
        hours_to_close=hours,
        outcome=cta.outcome,
        next_score=cta.next_score if closed else None,
    )


def _group_of(cta: DetractorCta, group_by: str) -> tuple[int | None, str]:
    """The (key, label) of the group a CTA counts in."""
    if group_by == "pool":
        if cta.pool_id is None:
            return None, "No pool (dedicated CSMs)"
        return cta.pool_id, cta.pool_name or f"Pool {cta.pool_id}"
    if cta.owner_id is None:
        return None, "Unassigned"
    if group_by == "team":
        # a CSM's team is their manager's; a CSM who reports to nobody heads their own
        if cta.owner_manager is not None:
            return cta.owner_manager, f"Team of {cta.manager_name}"
        return cta.owner_id, f"Team of {cta.owner_name}"
    return cta.owner_id, cta.owner_name or f"CSM {cta.owner_id}"


def group_cases(
    ctas: Iterable[DetractorCta], group_by: str, confidence: float
) -> tuple[LoopSummary, list[LoopGroup]]:
    """Every CTA's summary and each group's: the groups with the most CTAs first, the one
    of the CTAs without a CSM or pool last."""
    everything: list[LoopCase] = []
    grouped: dict[tuple[int | None, str], list[LoopCase]] = defaultdict(list)
    for cta in ctas:
        case = _case(cta)
        everything.append(case)
        grouped[_group_of(cta, group_by)].append(case)
    groups = [
        LoopGroup(key, label, loop_summary(cases, confidence))
        for (key, label), cases in grouped.items()
    ]
    groups.sort(key=lambda g: (g.key is None, -g.summary.cases, g.label.lower()))
    return loop_summary(everything, confidence), groups


async def loop_report(
    principal: Principal,
    group_by: str = "csm",
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
) -> LoopReport:
    """The detractor CTAs raised in [date_from, date_to), by `group_by` (csm: the owner;
    pool: the pool serving the account; team: the owner's manager)."""
    if group_by not in GROUPS:
        raise InputError("group", f"one of {', '.join(GROUPS)}")
    if not 0.5 <= confidence < 1:
        raise InputError("confidence", "between 0.5 and 1, e.g. 0.95")
    ctas = await detractor_ctas(principal, date_from, date_to)
    counted = [cta for cta in ctas if not cta.withdrawn]
    total, groups = group_cases(counted, group_by, confidence)
    return LoopReport(
        group_by=group_by,
        date_from=date_from,
        date_to=date_to,
        confidence=confidence,
        withdrawn=len(ctas) - len(counted),
        total=total,
        groups=groups,
    )


CSV_COLUMNS = (
    "group",
    "key",
    "ctas",
    "closed",
    "closure_rate",
    "closure_low",
    "closure_high",
    "median_hours_to_close",
    *(f"outcome_{o}" for o in OUTCOME_COLUMNS),
    "followed_up",
    "recovered",
    "recovery_rate",
    "recovery_low",
    "recovery_high",
    "recovered_accounts",
)


def _csv_row(label: str, key: int | str | None, s: LoopSummary) -> list[object]:
    return [
        spreadsheet_safe(label),
        key,
        s.cases,
        s.closed,
        s.closure.share,
        s.closure.ci_low,
        s.closure.ci_high,
        s.median_hours_to_close,
        *(s.outcomes.get(o, 0) for o in OUTCOME_COLUMNS),
        s.followed_up,
        s.recovered,
        s.recovery.share,
        s.recovery.ci_low,
        s.recovery.ci_high,
        s.recovered_accounts,
    ]


def loop_csv(report: LoopReport) -> str:
    """One row per group, then `All` (shares 0..1 with their Wilson intervals; empty where
    there is no figure)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = [_csv_row(g.label, g.key, g.summary) for g in report.groups]
    rows.append(_csv_row("All", "all", report.total))
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
