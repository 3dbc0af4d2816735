"""Defining pools: create, change, delete, members in and out, and the specialists' own
settings (dedicated or pooled, meeting link). Every definition that makes no sense is an
InputError naming the field: an unknown rule, an SLA of zero, a pool enabled without
members, a member nobody knows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedback.accounts.models import CSM, CsmKind
from feedback.auth.services import audit
from feedback.ctas.models import Cta
from feedback.db import json_object, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.pools.audience import check_audience
from feedback.pools.models import AssignmentRule, Pool, PoolMember
from feedback.pools.working_hours import WorkingHours

RULES = tuple(r.value for r in AssignmentRule)
MAX_SLA_MINUTES = 60 * 24 * 30  # a month of working minutes is more than any pool means


@dataclass(frozen=True, slots=True)
class MemberView:
    csm: int
    name: str
    email: str
    kind: str
    meeting_url: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class PoolView:
    """A pool as the API and the pages show it."""

    id: int
    name: str
    slack_channel: str | None
    rule: str
    audience: dict[str, Any]
    manager: int | None
    manager_email: str | None
    manager_name: str | None
    meeting_url: str | None
    claim_sla_minutes: int
    escalate_sla_minutes: int
    timezone: str
    workday_start_hour: int
    workday_end_hour: int
    active: bool
    created_at: datetime | None
    updated_at: datetime | None
    members: list[MemberView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__ if name != "members"}
        out["members"] = [
            {name: getattr(m, name) for name in MemberView.__slots__} for m in self.members
        ]
        return out


# the settings a pool's definition may carry, as the API, the pages and the import name them
SETTINGS = (
    "name",
    "slack_channel",
    "rule",
    "audience",
    "manager_email",
    "meeting_url",
    "claim_sla_minutes",
    "escalate_sla_minutes",
    "timezone",
    "workday_start_hour",
    "workday_end_hour",
    "active",
)


def check_meeting_url(value: Any, name: str = "meeting_url") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if len(text) > 500 or not text.startswith(("https://", "http://")) or " " in text:
        raise InputError(name, "an http(s) link of up to 500 characters, e.g. a Calendly page")
    return text


def _text(value: Any, name: str, limit: int, required: bool = False) -> str | None:
    text = "" if value is None else str(value).strip()
    if "\x00" in text:
        raise InputError(name, "must not contain NUL characters")
    if not text:
        if required:
            raise InputError(name, "required")
        return None
    if len(text) > limit:
        raise InputError(name, f"at most {limit} characters")
    return text


def _minutes(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(name, "a whole number of working minutes")
    if not 0 < value <= MAX_SLA_MINUTES:
        raise InputError(name, f"more than 0 and at most {MAX_SLA_MINUTES} working minutes")
    return value


def _hour(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(name, "a whole hour, 0 to 24")
    return value


async def _manager_id(email: Any) -> int | None:
    text = _text(email, "manager_email", 320)
    if text is None:
        return None
    row = await CSM.select(CSM.id).where(CSM.email == text.lower()).first()
    if row is None:
        raise InputError("manager_email", f"no CSM with the email {text}")
    return row["id"]


async def checked_values(changes: dict[str, Any], current: Pool | None) -> dict[Any, Any]:
    """Piccolo column values for the settings in `changes`, each checked; InputError names
    the first one that makes no sense."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise InputError(sorted(unknown)[0], f"unknown setting; a pool has {', '.join(SETTINGS)}")
    values: dict[Any, Any] = {}
    if "name" in changes or current is None:
        values[Pool.name] = _text(changes.get("name"), "name", 100, required=True)
    if "slack_channel" in changes:
        values[Pool.slack_channel] = _text(changes["slack_channel"], "slack_channel", 80)
    if "rule" in changes:
        rule = changes["rule"]
        if rule not in RULES:
            raise InputError("rule", f"must be one of {', '.join(RULES)}")
        values[Pool.rule] = rule
    if "audience" in changes:
        values[Pool.audience] = check_audience(changes["audience"])
    if "manager_email" in changes:
        values[Pool.manager] = await _manager_id(changes["manager_email"])
    if "meeting_url" in changes:
        values[Pool.meeting_url] = check_meeting_url(changes["meeting_url"])
    for name, column in (
        ("claim_sla_minutes", Pool.claim_sla_minutes),
        ("escalate_sla_minutes", Pool.escalate_sla_minutes),
    ):
        if name in changes:
            values[column] = _minutes(changes[name], name)
    hour_names = ("timezone", "workday_start_hour", "workday_end_hour")
    if any(name in changes for name in hour_names):
        hours = WorkingHours(
            str(changes.get("timezone", current.timezone if current else "UTC") or "UTC"),
            _hour(
                changes.get("workday_start_hour", current.workday_start_hour if current else 9),
                "workday_start_hour",
            ),
            _hour(
                changes.get("workday_end_hour", current.workday_end_hour if current else 17),
                "workday_end_hour",
            ),
        ).check()
        values[Pool.timezone] = hours.timezone
        values[Pool.workday_start_hour] = hours.start_hour
        values[Pool.workday_end_hour] = hours.end_hour
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise InputError("active", "true or false")
        values[Pool.active] = changes["active"]
    return values


async def member_ids(emails: Sequence[Any], name: str = "members") -> list[int]:
    """CSM ids of member emails, in order; InputError naming the first unknown one."""
    wanted = []
    for email in emails:
        text = _text(email, name, 320, required=True)
        assert text is not None
        wanted.append(text.lower())
    if not wanted:
        return []
    rows = await CSM.select(CSM.id, CSM.email).where(CSM.email.is_in(wanted))
    found = {row["email"]: row["id"] for row in rows}
    for email in wanted:
        if email not in found:
            raise InputError(name, f"no CSM with the email {email}")
    return list(dict.fromkeys(found[email] for email in wanted))


# --------------------------------------------------------------------------- reading


async def list_pools() -> list[PoolView]:
    rows = await Pool.select().order_by(Pool.id)
    return await _views(rows)


async def get_pool(pool_id: int) -> PoolView:
    row = await Pool.select().where(Pool.id == pool_id).first()
    if row is None:
        raise NotFound.for_field("pool", f"no pool with id {pool_id}")
    return (await _views([row]))[0]


async def _views(rows: list[dict[str, Any]]) -> list[PoolView]:
    ids = [row["id"] for row in rows]
    members: dict[int, list[MemberView]] = {}
    if ids:
        for m in (
            await PoolMember.select(
                PoolMember.pool,
                PoolMember.csm,
                PoolMember.csm.name.as_alias("name"),
                PoolMember.csm.email.as_alias("email"),
                PoolMember.csm.kind.as_alias("kind"),
                PoolMember.csm.meeting_url.as_alias("meeting_url"),
                PoolMember.csm.active.as_alias("active"),
            )
            .where(PoolMember.pool.is_in(ids))
            .order_by(PoolMember.id)
        ):
            members.setdefault(m["pool"], []).append(
                MemberView(
                    csm=m["csm"],
                    name=m["name"],
                    email=m["email"],
                    kind=m["kind"],
                    meeting_url=m["meeting_url"],
                    active=bool(m["active"]),
                )
            )
    managers = {
        row["id"]: row
        for row in await CSM.select(CSM.id, CSM.name, CSM.email).where(
            CSM.id.is_in([r["manager"] for r in rows if r["manager"]] or [0])
        )
    }
    views = []
    for row in rows:
        manager = managers.get(row["manager"])
        views.append(
            PoolView(
                id=row["id"],
                name=row["name"],
                slack_channel=row["slack_channel"],
                rule=row["rule"],
                audience=json_object(row["audience"]),
                manager=row["manager"],
                manager_email=manager["email"] if manager else None,
                manager_name=manager["name"] if manager else None,
                meeting_url=row["meeting_url"],
                claim_sla_minutes=row["claim_sla_minutes"],
                escalate_sla_minutes=row["escalate_sla_minutes"],
                timezone=row["timezone"],
                workday_start_hour=row["workday_start_hour"],
                workday_end_hour=row["workday_end_hour"],
                active=bool(row["active"]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                members=members.get(row["id"], []),
            )
        )
    return views


# --------------------------------------------------------------------------- writing


async def _locked(pool_id: int) -> Pool:
    pool = await Pool.objects().where(Pool.id == pool_id).first()
    if pool is None:
        raise NotFound.for_field("pool", f"no pool with id {pool_id}")
    return pool


async def _name_free(name: str, pool_id: int | None) -> None:
    query = Pool.exists().where(Pool.name == name)
    if pool_id is not None:
        query = query.where(Pool.id != pool_id)
    if await query:
        raise InputError("name", f"a pool named {name!r} exists")


async def create_pool(
    changes: dict[str, Any], members: Sequence[Any], *, actor: str, source: str
) -> PoolView:
    """A new pool with its members (emails). A pool is active unless `active` is false,
    and an active pool needs members."""
    values = await checked_values(changes, None)
    ids = await member_ids(members)
    values.setdefault(Pool.active, True)
    if values[Pool.active] and not ids:
        raise InputError("members", "an active pool needs members; add some, or create it inactive")
    async with write_transaction():
        await _name_free(values[Pool.name], None)
        pool = Pool(values)
        await pool.save()
        for csm in ids:
            await PoolMember(pool=pool.id, csm=csm).save()
        await audit(actor, source, "pool.create", values[Pool.name])
    return await get_pool(pool.id)


async def update_pool(
    pool_id: int, changes: dict[str, Any], *, actor: str, source: str
) -> PoolView:
    async with write_transaction():
        current = await _locked(pool_id)
        values = await checked_values(changes, current)
        if Pool.name in values:
            await _name_free(values[Pool.name], pool_id)
        if values.get(Pool.active) and not await _has_members(pool_id):
            raise InputError("active", "a pool needs members before it is enabled")
        values[Pool.updated_at] = utcnow()
        await Pool.update(values).where(Pool.id == pool_id)
        await audit(actor, source, "pool.update", current.name, {"fields": sorted(changes)})
    return await get_pool(pool_id)


async def _has_members(pool_id: int) -> bool:
    return await PoolMember.exists().where(PoolMember.pool == pool_id)


async def delete_pool(pool_id: int, *, actor: str, source: str) -> None:
    """Deletes a pool whose open CTAs all have owners (the others would belong to nobody:
    deactivate the pool instead, or let its members claim them first)."""
    async with write_transaction():
        pool = await _locked(pool_id)
        waiting = await Cta.count().where(
            (Cta.pool == pool_id) & Cta.owner.is_null() & (Cta.status != "closed")
        )
        if waiting:
            raise Conflict.for_field(
                "pool", f"{waiting} open CTAs of {pool.name} are unclaimed; deactivate it instead"
            )
        await Pool.delete().where(Pool.id == pool_id)
        await audit(actor, source, "pool.delete", pool.name)


async def add_members(pool_id: int, emails: Sequence[Any], *, actor: str, source: str) -> PoolView:
    ids = await member_ids(emails, "email")
    if not ids:
        raise InputError("email", "the member's email")
    async with write_transaction():
        pool = await _locked(pool_id)
        have = {
            row["csm"]
            for row in await PoolMember.select(PoolMember.csm).where(PoolMember.pool == pool_id)
        }
        for csm in ids:
            if csm not in have:
                await PoolMember(pool=pool_id, csm=csm).save()
        await audit(actor, source, "pool.members.add", pool.name, {"csms": ids})
    return await get_pool(pool_id)


async def remove_member(pool_id: int, csm_id: int, *, actor: str, source: str) -> PoolView:
    """Takes a CSM out of a pool (the CTAs they own stay theirs). The last member of an
    active pool stays: deactivate the pool first."""
    async with write_transaction():
        pool = await _locked(pool_id)
        removed = (
            await PoolMember.delete()
            .where((PoolMember.pool == pool_id) & (PoolMember.csm == csm_id))
            .returning(PoolMember.id)
        )
        if not removed:
            raise NotFound.for_field("csm", f"CSM {csm_id} is not a member of {pool.name}")
        if pool.active and not await _has_members(pool_id):
            raise InputError(
                "csm", f"the last member of the active pool {pool.name}; deactivate it first"
            )
        await audit(actor, source, "pool.members.remove", pool.name, {"csm": csm_id})
    return await get_pool(pool_id)


# --------------------------------------------------------------- the specialists themselves

KINDS = tuple(k.value for k in CsmKind)


async def update_csm_profile(
    csm_id: int, changes: dict[str, Any], *, actor: str, source: str
) -> dict[str, Any]:
    """A CSM's kind (dedicated or pooled) and meeting link; returns the CSM's id, name,
    email, kind and meeting_url."""
    allowed = ("kind", "meeting_url")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise InputError(sorted(unknown)[0], "unknown field; a CSM's kind or meeting_url")
    values: dict[Any, Any] = {}
    if "kind" in changes:
        if changes["kind"] not in KINDS:
            raise InputError("kind", f"must be one of {', '.join(KINDS)}")
        values[CSM.kind] = changes["kind"]
    if "meeting_url" in changes:
        values[CSM.meeting_url] = check_meeting_url(changes["meeting_url"])
    async with write_transaction():
        if values:
            values[CSM.updated_at] = utcnow()
            updated = await CSM.update(values).where(CSM.id == csm_id).returning(CSM.email)
        else:
            updated = await CSM.select(CSM.email).where(CSM.id == csm_id)
        if not updated:
            raise NotFound.for_field("csm", f"no CSM with id {csm_id}")
        await audit(actor, source, "csm.update", updated[0]["email"], {"fields": sorted(changes)})
    row = await CSM.select(CSM.id, CSM.name, CSM.email, CSM.kind, CSM.meeting_url).where(
        CSM.id == csm_id
    )
    return row[0]
