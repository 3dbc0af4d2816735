"""Database engines, migrations and transactions for SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from feedback.settings import DatabaseURL

# SQLite allows 32,766 bound parameters per statement; rows are chunked well below that.
INSERT_CHUNK_ROWS = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def engine_for(database: DatabaseURL) -> Engine:
    if database.engine == "sqlite":
        assert database.sqlite_path is not None
        # a generous busy timeout: writers queue behind each other instead of failing
        return SQLiteEngine(path=database.sqlite_path, timeout=30)
    return PostgresEngine(config={"dsn": database.url})


def current_engine() -> Engine:
    from piccolo.engine.finder import engine_finder

    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured")
    return engine


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or current_engine()).engine_type == "sqlite"


def prepare_sqlite_file(engine: SQLiteEngine) -> None:
    """Switch the file to WAL so readers never block the single writer (persists in the file)."""
    connection = sqlite3.connect(engine.path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction for read-then-write work.

    SQLite's default DEFERRED transactions fail with "database is locked" when two of them
    read and then both try to write; IMMEDIATE takes the write lock up front.
    """
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            yield


async def migrate(verbose: bool = False) -> None:
    """Apply every migration that has not run yet."""
    import io
    from contextlib import redirect_stdout

    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        prepare_sqlite_file(engine)
    out = io.StringIO()
    with redirect_stdout(out):
        result = await run_forwards(app_name="all", migration_id="all")
    if verbose or not result.success:
        print(out.getvalue().rstrip())
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")


async def pending_migrations() -> list[str]:
    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    manager = CheckMigrationManager(app_name="all")
    statuses = await manager.get_migration_statuses()
    return [f"{s.app_name}:{s.migration_id}" for s in statuses if not s.has_ran]


async def ping() -> tuple[bool, str]:
    """Whether the database answers a trivial query, and a message saying why not."""
    engine = current_engine()
    try:
        await engine.run_ddl("SELECT 1")
    except Exception as exc:  # any driver error means "unreachable" to the caller
        return False, f"{type(exc).__name__}: {exc}"
    return True, "ok"


async def open_database(pool_size: int | None = None) -> None:
    """Open the PostgreSQL connection pool (SQLite connects per query and needs none)."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        from feedback.settings import get_settings

        size = pool_size or get_settings().db_pool_size
        await engine.start_connection_pool(min_size=1, max_size=size)


async def close_database() -> None:
    engine = current_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
