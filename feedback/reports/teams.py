"""Team roll-ups for the manager and executive dashboards.

The database counts per CSM (`load_nps_report` grouped by CSM, the CSM at answer time); a team's
or a manager's NPS is computed from the summed counts of its CSMs, so no answer is read
twice and no SQL is repeated here. The CSM table's `manager` self-reference builds the tree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from analytics.nps import Precision, nps_interval
from feedback.accounts.models import CSM
from feedback.kernel.principal import Principal
from feedback.reports.services import NPSGroup, NPSQuery, load_nps_report

NO_CSM = "(no CSM)"
NO_MANAGER = "(no manager)"


@dataclass(frozen=True)
class Member:
    email: str
    name: str
    manager_email: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamGroup:
    """The NPS of several CSMs' summed answers: a team's in a period, or a manager's."""

    key: str  # "team", or the manager's email (NO_CSM, NO_MANAGER)
    period: str | None = None  # in a trend
    responses: int
    csms: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    precision: Precision
    name: str | None = None  # a manager's


@dataclass(frozen=True, slots=True)
class CsmRollup:
    """NPS per CSM (`groups`) and, with a period, each CSM's trend and the team's."""

    groups: list[NPSGroup]
    trend: list[NPSGroup]
    team_trend: list[TeamGroup]


async def csm_directory() -> dict[str, Member]:
    rows = await CSM.select(CSM.email, CSM.name, CSM.manager.email.as_alias("manager_email"))
    return {r["email"]: Member(r["email"], r["name"], r["manager_email"]) for r in rows}


def managers(directory: dict[str, Member]) -> list[Member]:
    """The CSMs someone reports to, by name."""
    emails = {m.manager_email for m in directory.values() if m.manager_email}
    return sorted((directory[e] for e in emails if e in directory), key=lambda m: m.name)


def combined(
    key: str,
    groups: list[NPSGroup],
    query: NPSQuery,
    period: str | None = None,
    name: str | None = None,
) -> TeamGroup:
    """One NPS with its interval from the summed counts of several report groups."""
    promoters = sum(g.promoters for g in groups)
    passives = sum(g.passives for g in groups)
    detractors = sum(g.detractors for g in groups)
    result = nps_interval(
        promoters, passives, detractors, confidence=query.confidence, method=query.ci_method
    )
    return TeamGroup(
        key=key,
        period=period,
        responses=promoters + passives + detractors,
        csms=len(groups),
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=None if result.nps is None else round(result.nps, 2),
        ci_low=None if result.ci_low is None else round(result.ci_low, 2),
        ci_high=None if result.ci_high is None else round(result.ci_high, 2),
        precision=result.precision,
        name=name,
    )


async def nps_by_csm(
    principal: Principal, query: NPSQuery, team: set[str] | None = None
) -> CsmRollup:
    """NPS per CSM (optionally only the CSMs in `team`) and, with `query.period`, the
    trend per CSM and the team's trend from the summed counts."""
    report = await load_nps_report(principal, replace(query, group_by="csm", period=None))
    groups = [g for g in report.groups if team is None or g.key in team]
    trend: list[NPSGroup] = []
    team_trend: list[TeamGroup] = []
    if query.period:
        split = await load_nps_report(principal, replace(query, group_by="csm"))
        trend = [g for g in split.groups if team is None or g.key in team]
        by_period: dict[str, list[NPSGroup]] = defaultdict(list)
        for group in trend:
            if isinstance(group.period, str):  # always, in a trend
                by_period[group.period].append(group)
        team_trend = [combined("team", by_period[p], query, period=p) for p in sorted(by_period)]
    return CsmRollup(groups, trend, team_trend)


async def nps_by_manager(principal: Principal, query: NPSQuery) -> list[TeamGroup]:
    """NPS per manager: the summed counts of the CSMs reporting to each one directly."""
    directory = await csm_directory()
    report = await load_nps_report(principal, replace(query, group_by="csm", period=None))
    buckets: dict[str, list[NPSGroup]] = defaultdict(list)
    for group in report.groups:
        buckets[_manager_of(group.key, directory)].append(group)
    names = {m.email: m.name for m in directory.values()}
    return [
        combined(email, members, query, name=names.get(email, email))
        for email, members in sorted(buckets.items())
    ]


def _manager_of(csm_email: str | None, directory: dict[str, Member]) -> str:
    if csm_email is None:
        return NO_CSM
    member = directory.get(csm_email)
    return (member.manager_email if member else None) or NO_MANAGER
