"""Transactions on either engine, and the driver connection of the current one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from feedback.db.engine import current_engine


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
        async with _postgres_transaction(cast(PostgresEngine, engine)):
            yield


@contextlib.asynccontextmanager
async def read_transaction() -> AsyncIterator[None]:
    """A plain transaction for reads that must see one snapshot (or carry `SET LOCAL`)."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction():
            yield
    else:
        async with _postgres_transaction(cast(PostgresEngine, engine)):
            yield


@contextlib.asynccontextmanager
async def _postgres_transaction(engine: PostgresEngine) -> AsyncIterator[None]:
    transaction = engine.transaction()
    try:
        async with transaction:
            yield
    finally:
        await _forget_failed_transaction(engine, transaction)


def transaction_connection() -> Any:
    """The driver connection (asyncpg or aiosqlite) of the transaction this task is in."""
    transaction = current_engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("this must run inside write_transaction() or read_transaction()")
    return transaction.connection


async def _forget_failed_transaction(
    engine: PostgresEngine, transaction: PostgresTransaction
) -> None:
    """Piccolo releases the connection and unsets the task's current transaction only after
    a successful BEGIN and then COMMIT or ROLLBACK. When the connection died (the database
    restarted) the rollback fails and both steps are skipped: every later transaction of the
    same task nests in the dead one, so a long-running loop (the answer rule runner, the
    outbox deliverer, the worker's jobs) would fail forever although the database is back."""
    connection = getattr(transaction, "connection", None)
    if connection is None:
        return  # nested in an outer transaction, or failed to connect
    # Piccolo makes the transaction current only once it is connected
    if engine.current_transaction.get() is transaction:
        engine.current_transaction.reset(transaction.context)
    elif hasattr(transaction, "context"):
        return  # ended normally
    if engine.pool is not None:
        await engine.pool.release(connection)  # a no-op when asyncpg released it already
    else:
        connection.terminate()
