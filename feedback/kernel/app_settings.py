"""Settings admins change at run time, as JSON documents in one table, read through one cache.

Each domain names its documents (a key and a msgspec Struct with defaults) and reads them
with `load`: a stored document that no longer validates (an older release's) reads as the
defaults, not as an error. `save` writes a document and forgets the cached copy at once in
this process; other processes see it within the cache's time limit.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec
from piccolo.columns import JSONB, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache
from feedback.kernel.clock import utcnow

log = logging.getLogger("feedback.settings")

Document = TypeVar("Document", bound=msgspec.Struct)


class AppSetting(Table, tablename="app_setting"):
    """Settings admins change at run time (e.g. min_days_between_surveys)."""

    key = Varchar(length=100, unique=True)
    value = JSONB(default={})
    updated_at = Timestamptz(default=TimestamptzNow())


_stored: TTLCache[dict[str, Any]] = TTLCache(CONFIG_TTL_SECONDS)


async def read(key: str) -> dict[str, Any]:
    """The stored JSON object under `key` ({} when there is none), cached."""

    async def from_table() -> dict[str, Any]:
        row = (
            await AppSetting.select(AppSetting.value)
            .where(AppSetting.key == key)
            .output(load_json=True)
            .first()
        )
        value = row["value"] if row is not None else None
        return value if isinstance(value, dict) else {}

    return await _stored.get(key, from_table)


async def write(key: str, value: dict[str, Any]) -> None:
    """Store the JSON object under `key`, replacing what was there."""
    await AppSetting.insert(AppSetting(key=key, value=value, updated_at=utcnow())).on_conflict(
        target=AppSetting.key, action="DO UPDATE", values=[AppSetting.value, AppSetting.updated_at]
    )
    _stored.discard(key)


async def load(key: str, kind: type[Document]) -> Document:
    """The document under `key` as `kind`, with `kind`'s defaults for what is not stored."""
    stored = await read(key)
    try:
        return msgspec.convert(stored, kind)
    except msgspec.ValidationError as exc:
        log.warning("stored setting %r no longer validates (%s): using the defaults", key, exc)
        return kind()


async def save(key: str, document: msgspec.Struct) -> None:
    await write(key, msgspec.to_builtins(document))
