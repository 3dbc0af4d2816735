"""Importing pools and their members from CSV: one row per pool and member (a row without a
member defines or changes the pool alone). A pool's settings may repeat on each of its rows,
but must agree; audience columns take several values separated by `;` and add up over the
pool's rows.

The whole file is checked first, each problem named by line and column; nothing is written
unless every row is right. Running the same file again changes nothing: pools are matched
by name, settings the file gives are set, members the file lists are added (members are
taken out on the pool's page or through the API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feedback.auth.services import audit
from feedback.db import write_transaction
from feedback.imports.parsing import FileError, RowError, SourceRow, decode, read_csv
from feedback.kernel.errors import InputError
from feedback.pools.models import Pool, PoolMember
from feedback.pools.services import checked_values, member_ids

# file column -> the pool setting it gives
SETTING_COLUMNS = {
    "pool": "name",
    "channel": "slack_channel",
    "rule": "rule",
    "manager_email": "manager_email",
    "meeting_url": "meeting_url",
    "claim_sla_minutes": "claim_sla_minutes",
    "escalate_sla_minutes": "escalate_sla_minutes",
    "timezone": "timezone",
    "workday_start_hour": "workday_start_hour",
    "workday_end_hour": "workday_end_hour",
    "active": "active",
}
AUDIENCE_COLUMNS = ("plan", "company_size", "industry", "status")
COLUMNS = (*SETTING_COLUMNS, *AUDIENCE_COLUMNS, "member_email")
ALIASES = {
    "name": "pool",
    "slack_channel": "channel",
    "manager": "manager_email",
    "member": "member_email",
}
INTEGER_COLUMNS = (
    "claim_sla_minutes",
    "escalate_sla_minutes",
    "workday_start_hour",
    "workday_end_hour",
)


@dataclass
class PlannedPool:
    name: str
    line: int  # its first row
    settings: dict[str, Any] = field(default_factory=dict)
    set_on: dict[str, int] = field(default_factory=dict)  # setting -> the line that set it
    audience: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)  # email -> line


@dataclass
class PoolImportResult:
    rows: int = 0
    pools: int = 0
    created: int = 0
    updated: int = 0
    members_added: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "pools": self.pools,
            "created": self.created,
            "updated": self.updated,
            "members_added": self.members_added,
            "written": self.written,
            "error_count": len(self.errors),
            "errors": [e.as_dict() for e in self.errors[:1000]],
        }


def _cell_value(column: str, text: str) -> Any:
    if column in INTEGER_COLUMNS:
        try:
            return int(text)
        except ValueError:
            raise InputError(column, f"a whole number, got {text[:40]!r}") from None
    if column == "active":
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise InputError(column, "true or false")
        return lowered in ("true", "yes", "1")
    return text


async def _plan(rows: list[SourceRow], result: PoolImportResult) -> dict[str, PlannedPool]:
    planned: dict[str, PlannedPool] = {}
    for row in rows:
        values = {ALIASES.get(k, k): v.strip() for k, v in row.values.items()}
        name = values.get("pool", "")
        if not name:
            result.errors.append(RowError(row.line, "pool", "required: the pool's name"))
            continue
        pool = planned.setdefault(name.lower(), PlannedPool(name, row.line))
        for column, setting in SETTING_COLUMNS.items():
            text = values.get(column, "")
            if not text or column == "pool":
                continue
            try:
                value = _cell_value(column, text)
                # each setting checked on its own (the working hours together, below)
                if column not in ("timezone", "workday_start_hour", "workday_end_hour"):
                    await checked_values({"name": name, setting: value}, None)
            except InputError as exc:
                result.errors.append(RowError(row.line, column, exc.message))
                continue
            if setting in pool.settings and pool.settings[setting] != value:
                result.errors.append(
                    RowError(
                        row.line,
                        column,
                        f"{pool.name} has {pool.settings[setting]!r} on line "
                        f"{pool.set_on[setting]}; a pool's rows must agree",
                    )
                )
                continue
            pool.settings[setting] = value
            pool.set_on.setdefault(setting, row.line)
        for column in AUDIENCE_COLUMNS:
            for value in (v.strip() for v in values.get(column, "").split(";")):
                if value and value not in pool.audience.setdefault(column, []):
                    pool.audience[column].append(value)
        email = values.get("member_email", "").lower()
        if email:
            try:
                await member_ids([email], "member_email")
            except InputError as exc:
                result.errors.append(RowError(row.line, "member_email", exc.message))
                continue
            pool.members.setdefault(email, row.line)
    for pool in planned.values():
        pool.audience = {k: v for k, v in pool.audience.items() if v}
        hours = {k: v for k, v in pool.settings.items() if k.startswith(("timezone", "work"))}
        if hours:
            try:
                await checked_values({"name": pool.name, **hours}, None)
            except InputError as exc:
                line = pool.set_on.get(exc.field, pool.line)
                result.errors.append(RowError(line, exc.field, exc.message))
    return planned


async def import_pools(data: bytes, *, actor: str, source: str) -> PoolImportResult:
    """Check the CSV file whole, then write it in one transaction (or nothing)."""
    result = PoolImportResult()
    try:
        header, source_rows = read_csv(decode(data))
        known = set(COLUMNS) | set(ALIASES)
        for name in header:
            if name not in known:
                raise FileError(
                    RowError(1, name, f"unknown column; a pools file has {', '.join(COLUMNS)}")
                )
        if "pool" not in header and "name" not in header:
            raise FileError(RowError(1, "pool", "the header needs a pool column"))
        rows = list(source_rows)
    except FileError as exc:
        result.errors.append(exc.error)
        return result
    result.rows = len(rows)
    planned = await _plan(rows, result)
    result.pools = len(planned)
    existing = {
        row["name"].lower(): row
        for row in await Pool.select(Pool.id, Pool.name, Pool.active)
        if row["name"].lower() in planned
    }
    for key, pool in planned.items():
        current = existing.get(key)
        active = pool.settings.get("active", bool(current["active"]) if current else True)
        has_members = bool(pool.members) or (
            current is not None
            and await PoolMember.exists().where(PoolMember.pool == current["id"])
        )
        if active and not has_members:
            result.errors.append(
                RowError(pool.line, "member_email", f"{pool.name} is active but has no members")
            )
    if result.errors:
        result.errors.sort(key=lambda e: e.line)
        return result
    async with write_transaction():
        for key, pool in planned.items():
            await _write(pool, existing.get(key), result)
        await audit(actor, source, "pools.import", "", {"pools": result.pools})
    result.written = True
    return result


async def _write(
    pool: PlannedPool, current: dict[str, Any] | None, result: PoolImportResult
) -> None:
    changes = dict(pool.settings)
    changes["name"] = pool.name if current is None else current["name"]
    if pool.audience:
        changes["audience"] = pool.audience
    stored = None
    if current is not None:
        stored = await Pool.objects().where(Pool.id == current["id"]).first()
    values = await checked_values(changes, stored)
    if current is None:
        values.setdefault(Pool.active, True)
        row = Pool(values)
        await row.save()
        pool_id = row.id
        result.created += 1
    else:
        pool_id = current["id"]
        await Pool.update(values).where(Pool.id == pool_id)
        result.updated += 1
    have = {
        row["csm"]
        for row in await PoolMember.select(PoolMember.csm).where(PoolMember.pool == pool_id)
    }
    for csm in await member_ids(list(pool.members)):
        if csm not in have:
            await PoolMember(pool=pool_id, csm=csm).save()
            result.members_added += 1
