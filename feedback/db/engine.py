"""The process's database engine: which one, opening and closing its pool, and checks."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from feedback.settings import DatabaseURL

# A new connection that gets no answer by then fails (asyncpg waits 60 s by default): a
# database host that stops answering turns into quick 503s, not requests hanging for a minute.
CONNECT_TIMEOUT_SECONDS = 5.0


def engine_for(database: DatabaseURL) -> Engine:
    if database.engine == "sqlite":
        assert database.sqlite_path is not None
        # a generous busy timeout: writers queue behind each other instead of failing
        return SQLiteEngine(path=database.sqlite_path, timeout=30)
    return PostgresEngine(config={"dsn": database.url})


_engine: Engine | None = None


def current_engine() -> Engine:
    """The process's engine (Piccolo's finder imports the configuration on every call, which
    showed up in the widget's profiles; the engine never changes within a process)."""
    global _engine
    if _engine is None:
        from piccolo.engine.finder import engine_finder

        _engine = engine_finder()
        if _engine is None:
            raise RuntimeError("no Piccolo engine configured")
    return _engine


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or current_engine()).engine_type == "sqlite"


def prepare_sqlite_file(engine: SQLiteEngine) -> None:
    """Switch the file to WAL so readers never block the single writer (persists in the file)."""
    connection = sqlite3.connect(engine.path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


async def _keep_connection(_: Any) -> None:
    """Nothing to reset when a connection returns to the pool: this service keeps no session
    state (advisory locks are transaction-scoped, settings are SET LOCAL, no LISTEN), and
    asyncpg still rolls back an unfinished transaction before calling this. asyncpg's
    default reset costs a round trip on every release."""


async def open_database(pool_size: int | None = None) -> bool:
    """Open the PostgreSQL connection pool; False when there is nothing to open (SQLite
    connects per query) or a pool is already open, so the caller knows not to close it.

    The pool rides out a database restart by itself: asyncpg drops a connection the server
    closed and opens a new one at the next acquire (see the PostgreSQL restart tests)."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine) or engine.pool is not None:
        return False
    from feedback.settings import get_settings

    size = pool_size or get_settings().db_pool_size
    await engine.start_connection_pool(
        min_size=1, max_size=size, reset=_keep_connection, timeout=CONNECT_TIMEOUT_SECONDS
    )
    return True


async def close_database() -> None:
    engine = current_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


async def ping() -> tuple[bool, str]:
    """Whether the database answers a trivial query, and a message saying why not."""
    engine = current_engine()
    try:
        await engine.run_ddl("SELECT 1")
    except Exception as exc:  # any driver error means "unreachable" to the caller
        return False, f"{type(exc).__name__}: {exc}"
    return True, "ok"


async def warn_when_autovacuum_is_off() -> bool:
    """Log a warning when PostgreSQL's autovacuum is off, and say whether it did.

    The hot paths keep their plans per connection and rely on autovacuum's ANALYZE to have
    them made anew as tables grow: without it, a plan made while a table was nearly empty
    stays (a sequential scan where an index lookup is meant). SQLite has no such plans."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        return False
    from feedback.db.statements import fetch

    rows = await fetch("SELECT current_setting('autovacuum') AS on")
    if rows[0]["on"] == "on":
        return False
    logging.getLogger("feedback").warning(
        "PostgreSQL's autovacuum is off: the planner's statistics go stale as tables grow "
        "and statements keep plans made for small tables; turn it on, or run ANALYZE "
        "regularly"
    )
    return True
