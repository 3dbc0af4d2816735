"""Programs as stored: a row's JSON columns read back into a checked `Definition`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedback.db import as_utc_datetime
from feedback.programs.definitions import Definition, parse_definition
from feedback.programs.models import Program


@dataclass(frozen=True)
class StoredProgram:
    id: int
    slug: str | None
    enabled: bool
    archived: bool
    definition: Definition
    scanned_until: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


def _json(value: Any, empty: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value else empty
    return empty if value is None else value


def definition_data(row: dict[str, Any]) -> dict[str, Any]:
    """A program row in the JSON form the API takes and returns."""
    return {
        "name": row["name"],
        "description": row["description"] or "",
        "trigger": {
            "kind": row["trigger_kind"],
            "params": _json(row["trigger_params"], {}),
        },
        "audience": _json(row["audience"], {}),
        "steps": _json(row["steps"], []),
        "exit_conditions": _json(row["exit_conditions"], []),
        "locale_default": row["locale_default"] or "en",
    }


def stored_program(row: dict[str, Any]) -> StoredProgram:
    return StoredProgram(
        id=row["id"],
        slug=row["slug"],
        enabled=bool(row["enabled"]),
        archived=bool(row["archived"]),
        definition=parse_definition(definition_data(row)),
        scanned_until=as_utc_datetime(row["scanned_until"]),
        created_at=as_utc_datetime(row["created_at"]),
        updated_at=as_utc_datetime(row["updated_at"]),
    )


async def load_definition(program_id: int) -> StoredProgram | None:
    row = await Program.select().where(Program.id == program_id).first()
    return None if row is None else stored_program(row)


async def load_programs(*, include_archived: bool = False) -> list[StoredProgram]:
    query = Program.select().order_by(Program.name)
    if not include_archived:
        query = query.where(Program.archived == False)  # noqa: E712
    return [stored_program(row) for row in await query]
