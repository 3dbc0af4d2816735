"""Who a program mail is from, and the variables its templates see for one participant.

Mail is sent as the account's owner: its active dedicated CSM, else the pool of specialists
serving it (the pool's name, its manager's address for replies), else the team's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feedback.db import json_object
from feedback.pools.audience import pool_for_account
from feedback.programs import queries

TEAM_NAME = "Customer Success"


@dataclass(frozen=True)
class Owner:
    name: str
    email: str | None
    meeting_url: str | None


async def owner_of(account_id: int, csm_id: int | None) -> Owner:
    if csm_id is not None:
        csm = await queries.CSM_OF.first(csm_id)
        if csm is not None and csm["active"] in (True, 1) and csm["kind"] != "pooled":
            return Owner(csm["name"], csm["email"], csm["meeting_url"])
    pool = await pool_for_account(account_id)
    if pool is not None:
        manager = await queries.CSM_OF.first(pool.manager) if pool.manager else None
        return Owner(pool.name, manager["email"] if manager else None, pool.meeting_url)
    return Owner(TEAM_NAME, None, None)


def person_name(traits: Any, email: str | None) -> str:
    """The person's name from their traits (name, or first and last name), else ""."""
    values = json_object(traits)
    name = values.get("name") or " ".join(
        str(values[key]) for key in ("first_name", "last_name") if values.get(key)
    )
    return str(name).strip()[:200]


def participant_variables(
    row: dict[str, Any], owner: Owner, program_name: str, unsubscribe: str
) -> dict[str, Any]:
    """The templates' variables for a participant (a row of queries.PARTICIPANT_FOR_UPDATE)."""
    return {
        "person": {
            "name": person_name(row.get("user_traits"), row.get("email")),
            "email": row.get("email") or "",
            "role": row.get("role") or "",
            "locale": row.get("locale") or "",
        },
        "account": {
            "name": row["account_name"],
            "plan": row.get("plan") or "",
            "external_id": row["account_external_id"],
        },
        "score": row.get("score"),
        "comment": row.get("comment") or "",
        "owner": {
            "name": owner.name,
            "email": owner.email or "",
            "meeting_url": owner.meeting_url or "",
        },
        "unsubscribe_url": unsubscribe,
        "program": {"name": program_name},
    }
