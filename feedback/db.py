"""Database engines, migrations and transactions for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from feedback.settings import DatabaseURL

# SQLite allows 32,766 bound parameters per statement; rows are chunked well below that.
INSERT_CHUNK_ROWS = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc_datetime(value: Any) -> datetime | None:
    """A timestamp from raw SQL: SQLite returns computed columns (min(), max()) as text."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        transaction = engine.transaction()
        try:
            async with transaction:
                yield
        finally:
            await _forget_failed_transaction(engine, transaction)


async def _forget_failed_transaction(
    engine: PostgresEngine, transaction: PostgresTransaction
) -> None:
    """Piccolo releases the connection and unsets the task's current transaction only after
    a successful BEGIN and then COMMIT or ROLLBACK. When the connection died (the database
    restarted) the rollback fails and both steps are skipped: every later transaction of the
    same task nests in the dead one, so a long-running loop (the answer rule runner, the
    outbox deliverer, the worker's jobs) would fail forever although the database is back."""
    connection = getattr(transaction, "connection", None)
    if engine.current_transaction.get() is transaction:
        engine.current_transaction.reset(transaction.context)
    elif connection is None or hasattr(transaction, "context"):
        return  # nested in an outer transaction, failed to connect, or ended normally
    if engine.pool is not None:
        await engine.pool.release(connection)  # a no-op when asyncpg released it already
    else:
        connection.terminate()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def bulk_upsert(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: str,
    update: Sequence[str],
) -> None:
    """`INSERT ... ON CONFLICT (key) DO UPDATE|NOTHING` for many rows, inside the current
    transaction, with the driver's executemany.

    Piccolo's insert builds a Table object and an SQL string per row, which made a
    100,000-row import take minutes; one prepared statement fed by executemany keeps it to
    seconds. Values must already be in driver form (JSON as text).
    """
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk_upsert must run inside write_transaction()")
    if isinstance(engine, SQLiteEngine):
        marks = ", ".join("?" for _ in columns)
    else:
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    if update:
        action = "DO UPDATE SET " + ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in update)
    else:
        action = "DO NOTHING"
    sql = (
        f"INSERT INTO {_quote(table)} ({', '.join(_quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({marks}) ON CONFLICT ({_quote(key)}) {action}"
    )
    connection = transaction.connection
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        await connection.executemany(sql, rows[start : start + INSERT_CHUNK_ROWS])


async def refresh_planner_statistics(tables: Sequence[str]) -> None:
    """ANALYZE after a bulk load, so PostgreSQL's planner sees the rows just written."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        for table in tables:
            await engine.run_ddl(f"ANALYZE {_quote(table)}")


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


class Statement:
    """One SQL statement for a hot path, written with `{}` placeholders like Piccolo's raw
    queries, with an optional PostgreSQL-only form (a data-modifying CTE that does in one
    round trip what SQLite needs a transaction for).

    On PostgreSQL it runs straight on asyncpg (the current transaction's connection, else one
    from the pool), skipping Piccolo's query building, which cost more CPU than the
    statements themselves on the widget's paths (measured: about 70 us per statement). On
    SQLite it runs through Piccolo's engine, which owns the connection and its converters.
    """

    __slots__ = ("_numbered", "postgres", "text")

    def __init__(self, text: str, postgres: str | None = None) -> None:
        self.text = text
        self.postgres = postgres or text
        marks = [f"${n}" for n in range(1, self.postgres.count("{}") + 1)]
        self._numbered = self.postgres.format(*marks)

    async def fetch(self, *args: Any) -> list[dict[str, Any]]:
        engine = current_engine()
        if isinstance(engine, PostgresEngine):
            transaction = engine.current_transaction.get()
            if transaction is not None:
                rows = await transaction.connection.fetch(self._numbered, *args)
                return [dict(row) for row in rows]
            if engine.pool is not None:
                async with engine.pool.acquire() as connection:
                    rows = await connection.fetch(self._numbered, *args)
                return [dict(row) for row in rows]
            return await engine.run_querystring(QueryString(self.postgres, *args))
        return await engine.run_querystring(QueryString(self.text, *args))

    async def first(self, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(*args)
        return rows[0] if rows else None


Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Many callers' writes in one statement and one commit: group commit inside the process.

    `submit(item)` waits for `run(items)`, which writes a whole batch and returns one result
    per item, in order (an exception in an item's place is raised to that item's caller).
    A batch starts at once when fewer than `in_flight` batches are running, so a lone caller
    waits no longer than before; under load, what arrives while batches run is written
    together by the next one (up to `max_items`). The cost per statement (a round trip,
    parsing, a transaction, the commit's flush) is then shared.

    After a batch of several, the next one waits up to `linger` seconds for as many callers
    (unless they are there already): under steady load the callers of one batch come back
    with their next writes just after it committed, and without the wait they would
    alternate between two half batches. A lone caller never waits.

    Each caller still gets its answer only after its batch committed. A caller that gives up
    (a client gone) does not take its item out: what was submitted is written. When `run`
    raises, every caller of that batch gets the exception; `run` should fall back to writing
    items one by one where one item's fault could otherwise fail the others.
    """

    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[list[Result | Exception]]],
        max_items: int = 64,
        in_flight: int = 1,
        linger: float = 0.0,
    ) -> None:
        self._run = run
        self.max_items = max_items
        self.in_flight = in_flight
        self.linger = linger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()  # references, so tasks are kept
        # draining tasks not yet returned: counted by the task itself as it returns, not by a
        # done callback, which runs only after the callers it just answered; a caller that
        # submits again at once would otherwise find a finished task counted and wait forever
        self._active = 0
        # while lingering: the number of callers that ends the wait, and the wait itself
        self._enough = 0
        self._filled: asyncio.Future[None] | None = None
        self.batches = 0  # written since the process started, and the items in them
        self.items = 0
        self.largest = 0

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is live
            self._loop, self._waiting, self._running = loop, [], set()
            self._filled, self._active = None, 0
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        filled = self._filled
        if filled is not None and len(self._waiting) >= self._enough and not filled.done():
            filled.set_result(None)
        if self._active < self.in_flight:
            self._active += 1
            task = loop.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await future  # a caller cancelled cancels its future, not its write

    async def _drain(self) -> None:
        loop = self._loop
        try:
            await self._write_batches()
        finally:
            if self._loop is loop:
                self._active -= 1

    async def _write_batches(self) -> None:
        last = 0
        while True:
            if last > 1 and self.linger > 0 and len(self._waiting) < last:
                await self._wait_for(min(last, self.max_items))
            if not self._waiting:
                return
            batch = self._waiting[: self.max_items]
            last = len(batch)
            del self._waiting[: self.max_items]
            self.batches += 1
            self.items += len(batch)
            self.largest = max(self.largest, len(batch))
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:  # the event loop is closing
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # every caller of this batch hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _wait_for(self, callers: int) -> None:
        """Until `callers` are waiting, or `linger` seconds have passed."""
        assert self._loop is not None
        self._enough, self._filled = callers, self._loop.create_future()
        try:
            await asyncio.wait_for(self._filled, self.linger)
        except TimeoutError:
            pass
        finally:
            self._filled = None


async def _keep_connection(_: Any) -> None:
    """Nothing to reset when a connection returns to the pool: this service keeps no session
    state (advisory locks are transaction-scoped, settings are SET LOCAL, no LISTEN), and
    asyncpg still rolls back an unfinished transaction before calling this. asyncpg's
    default reset costs a round trip on every release."""


# A new connection that gets no answer by then fails (asyncpg waits 60 s by default): a
# database host that stops answering turns into quick 503s, not requests hanging for a minute.
CONNECT_TIMEOUT_SECONDS = 5.0


async def open_database(pool_size: int | None = None) -> bool:
    """Open the PostgreSQL connection pool; False when there is nothing to open (SQLite
    connects per query) or a pool is already open, so the caller knows not to close it.

    The pool rides out a database restart by itself: asyncpg drops a connection the server
    closed and opens a new one at the next acquire (see tests/test_pg_restart.py)."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine) or engine.pool is not None:
        return False
    from feedback.settings import get_settings

    size = pool_size or get_settings().db_pool_size
    await engine.start_connection_pool(
        min_size=1, max_size=size, reset=_keep_connection, timeout=CONNECT_TIMEOUT_SECONDS
    )
    return True


async def warn_when_autovacuum_is_off() -> bool:
    """Log a warning when PostgreSQL's autovacuum is off, and say whether it did.

    The hot paths keep their plans per connection and rely on autovacuum's ANALYZE to have
    them made anew as tables grow: without it, a plan made while a table was nearly empty
    stays (a sequential scan where an index lookup is meant). SQLite has no such plans."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        return False
    rows = await engine.run_querystring(QueryString("SELECT current_setting('autovacuum') AS on"))
    if rows[0]["on"] == "on":
        return False
    logging.getLogger("feedback").warning(
        "PostgreSQL's autovacuum is off: the planner's statistics go stale as tables grow "
        "and statements keep plans made for small tables; turn it on, or run ANALYZE "
        "regularly"
    )
    return True


async def close_database() -> None:
    engine = current_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
