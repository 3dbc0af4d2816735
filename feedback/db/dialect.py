"""What differs between SQLite and PostgreSQL outside the SQL text itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def as_utc_datetime(value: Any) -> datetime | None:
    """A timestamp from raw SQL: SQLite returns computed columns (min(), max()) as text."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def json_object(value: Any) -> dict[str, Any]:
    """A JSON column's object as read by either engine (SQLite gives text)."""
    if isinstance(value, str):
        return json.loads(value or "{}")
    return value or {}
