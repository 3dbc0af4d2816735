"""Team roll-ups for the manager and executive dashboards.

The database counts per CSM (`nps_report` grouped by CSM, the CSM at answer time); a team's
or a manager's NPS is computed from the summed counts of its CSMs, so no answer is read
twice and no SQL is repeated here. The CSM table's `manager` self-reference builds the tree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from analytics.nps import nps_interval
from feedback.accounts.models import CSM
from feedback.kernel.principal import Principal
from feedback.reports.services import NPSQuery, nps_report

NO_CSM = "(no CSM)"
NO_MANAGER = "(no manager)"


@dataclass(frozen=True)
class Member:
    email: str
    name: str
    manager_email: str | None


async def csm_directory() -> dict[str, Member]:
    rows = await CSM.select(CSM.email, CSM.name, CSM.manager.email.as_alias("manager_email"))
    return {r["email"]: Member(r["email"], r["name"], r["manager_email"]) for r in rows}


def managers(directory: dict[str, Member]) -> list[Member]:
    """The CSMs someone reports to, by name."""
    emails = {m.manager_email for m in directory.values() if m.manager_email}
    return sorted((directory[e] for e in emails if e in directory), key=lambda m: m.name)


def combined(
    key: str, groups: list[dict[str, Any]], query: NPSQuery, period: str | None = None
) -> dict[str, Any]:
    """One NPS with its interval from the summed counts of several report groups."""
    promoters = sum(g["promoters"] for g in groups)
    passives = sum(g["passives"] for g in groups)
    detractors = sum(g["detractors"] for g in groups)
    result = nps_interval(
        promoters, passives, detractors, confidence=query.confidence, method=query.ci_method
    )
    return {
        "key": key,
        **({"period": period} if period is not None else {}),
        "responses": promoters + passives + detractors,
        "csms": len(groups),
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": None if result.nps is None else round(result.nps, 2),
        "ci_low": None if result.ci_low is None else round(result.ci_low, 2),
        "ci_high": None if result.ci_high is None else round(result.ci_high, 2),
        "precision": result.precision,
    }


async def nps_by_csm(
    principal: Principal, query: NPSQuery, team: set[str] | None = None
) -> dict[str, Any]:
    """NPS per CSM (optionally only the CSMs in `team`) and, with `query.period`, the
    trend per CSM and the team's trend from the summed counts."""
    report = await nps_report(principal, replace(query, group_by="csm", period=None))
    groups = [g for g in report["groups"] if team is None or g["key"] in team]
    trend: list[dict[str, Any]] = []
    team_trend: list[dict[str, Any]] = []
    if query.period:
        split = await nps_report(principal, replace(query, group_by="csm"))
        trend = [g for g in split["groups"] if team is None or g["key"] in team]
        by_period: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for group in trend:
            by_period[group["period"]].append(group)
        team_trend = [combined("team", by_period[p], query, period=p) for p in sorted(by_period)]
    return {"groups": groups, "trend": trend, "team_trend": team_trend}


async def nps_by_manager(principal: Principal, query: NPSQuery) -> dict[str, Any]:
    """NPS per manager: the summed counts of the CSMs reporting to each one directly."""
    directory = await csm_directory()
    report = await nps_report(principal, replace(query, group_by="csm", period=None))
    buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group in report["groups"]:
        buckets[_manager_of(group["key"], directory)].append(group)
    names = {m.email: m.name for m in directory.values()}
    rows = []
    for email, members in sorted(buckets.items()):
        row = combined(email, members, query)
        row["name"] = names.get(email, email)
        rows.append(row)
    return {"groups": rows}


def _manager_of(csm_email: str | None, directory: dict[str, Member]) -> str:
    if csm_email is None:
        return NO_CSM
    member = directory.get(csm_email)
    return (member.manager_email if member else None) or NO_MANAGER
