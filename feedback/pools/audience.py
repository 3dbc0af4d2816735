"""Which pool serves an account: one without an active dedicated CSM is served by the first
active pool (by id) whose audience matches it.

An audience is a JSON object of account fields and the values each may take, e.g.
`{"plan": ["free", "starter"], "company_size": ["1-10"], "traits": {"region": ["EMEA"]}}`.
A field's values are any of (case does not matter); every field named must match; `{}`
matches every account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from feedback.db import fetch, json_object
from feedback.kernel.errors import InputError
from feedback.pools import queries

# the account fields an audience may name, besides `traits`
AUDIENCE_FIELDS = ("plan", "industry", "company_size", "status", "currency")
MAX_VALUES = 200


@dataclass(frozen=True, slots=True)
class PoolRef:
    """A pool as the rest of the product names it: programs take its meeting link, the
    account page shows its name, the Slack card goes to its channel."""

    id: int
    name: str
    slack_channel: str | None
    meeting_url: str | None
    manager: int | None  # the CSM id of the pool's manager


def _values(field: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError(field, "a value or a non-empty list of values")
    if len(value) > MAX_VALUES:
        raise InputError(field, f"at most {MAX_VALUES} values")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(field, "values must be non-empty text")
    return [v.strip() for v in value]


def check_audience(audience: Any) -> dict[str, Any]:
    """The audience in its stored form (lists of values), or an InputError naming the field
    (`audience.plan`, `audience.traits.region`)."""
    if audience is None:
        return {}
    if not isinstance(audience, dict):
        raise InputError("audience", 'an object such as {"plan": ["free"]}')
    clean: dict[str, Any] = {}
    for key, value in audience.items():
        if key == "traits":
            if not isinstance(value, dict):
                raise InputError("audience.traits", 'an object such as {"region": ["EMEA"]}')
            clean["traits"] = {
                str(name): _values(f"audience.traits.{name}", each) for name, each in value.items()
            }
        elif key in AUDIENCE_FIELDS:
            clean[key] = _values(f"audience.{key}", value)
        else:
            known = ", ".join((*AUDIENCE_FIELDS, "traits"))
            raise InputError(f"audience.{key}", f"unknown field; an audience may name {known}")
    return clean


def _one_of(value: Any, accepted: Iterable[str]) -> bool:
    return value is not None and str(value).strip().lower() in {a.lower() for a in accepted}


def matches(audience: Mapping[str, Any], account: Mapping[str, Any]) -> bool:
    """Whether an account (its fields, `traits` a dict) is in the audience."""
    for key, accepted in audience.items():
        if key == "traits":
            traits = account.get("traits") or {}
            if not all(_one_of(traits.get(name), each) for name, each in accepted.items()):
                return False
        elif not _one_of(account.get(key), accepted):
            return False
    return True


async def pools_for_accounts(account_ids: Iterable[int]) -> dict[int, PoolRef]:
    """The pool serving each of these accounts that has no active dedicated CSM and that
    some active pool's audience matches; accounts without one are left out."""
    pools = await queries.ACTIVE_POOLS.fetch()
    wanted = sorted(set(account_ids))
    if not pools or not wanted:
        return {}
    audiences = [(json_object(p["audience"]), p) for p in pools]
    served: dict[int, PoolRef] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in await fetch(queries.accounts_for_audience_sql(len(chunk)), *chunk):
            if row["dedicated"]:
                continue
            account = {**row, "traits": json_object(row["traits"])}
            for audience, pool in audiences:
                if matches(audience, account):
                    served[row["id"]] = PoolRef(
                        id=pool["id"],
                        name=pool["name"],
                        slack_channel=pool["slack_channel"],
                        meeting_url=pool["meeting_url"],
                        manager=pool["manager"],
                    )
                    break
    return served


async def pool_for_account(account_id: int) -> PoolRef | None:
    """The pool serving the account, or None when a dedicated CSM does (or no pool's
    audience takes it)."""
    return (await pools_for_accounts([account_id])).get(account_id)
