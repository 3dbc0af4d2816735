"""Running SQL: `Statement` for a named statement of a domain's `queries.py`, `fetch` for
text a query builder assembled at run time. Both take Piccolo's `{}` placeholders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from feedback.db.engine import current_engine
from feedback.db.transactions import read_transaction, transaction_connection

Row = dict[str, Any]


class Statement:
    """One SQL statement written with `{}` placeholders like Piccolo's raw queries, with an
    optional PostgreSQL-only form (a data-modifying CTE that does in one round trip what
    SQLite needs a transaction for).

    On PostgreSQL it runs straight on asyncpg (the current transaction's connection, else one
    from the pool), skipping Piccolo's query building, which cost more CPU than the
    statements themselves on the widget's paths (measured: about 70 us per statement). On
    SQLite it runs through Piccolo's engine, which owns the connection and its converters.
    """

    __slots__ = ("_numbered", "_question_marks", "postgres", "text")

    def __init__(self, text: str, postgres: str | None = None) -> None:
        self.text = text
        self.postgres = postgres or text
        self._numbered = self.postgres.format(
            *(f"${n}" for n in range(1, self.postgres.count("{}") + 1))
        )
        self._question_marks = self.text.format(*("?" for _ in range(self.text.count("{}"))))

    async def fetch(self, *args: Any) -> list[Row]:
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
            rows = await engine.run_querystring(QueryString(self.postgres, *args))
            return [dict(row) for row in rows]
        return await engine.run_querystring(QueryString(self.text, *args))

    async def first(self, *args: Any) -> Row | None:
        rows = await self.fetch(*args)
        return rows[0] if rows else None

    async def run(self, *args: Any) -> None:
        """For statements whose rows nobody reads (an UPDATE, a lock)."""
        await self.fetch(*args)

    async def run_many(self, rows: Sequence[Sequence[Any]], chunk: int = 1000) -> None:
        """The statement once per row with the driver's executemany, inside the current
        transaction: one prepared statement instead of one query per row."""
        connection = transaction_connection()
        sql = self._numbered if not _on_sqlite() else self._question_marks
        for start in range(0, len(rows), chunk):
            await connection.executemany(sql, rows[start : start + chunk])


def _on_sqlite() -> bool:
    return current_engine().engine_type == "sqlite"


async def fetch(sql: str, *args: Any) -> list[Row]:
    """Rows of SQL text assembled at run time (a report's filters, a dynamic ORDER BY)."""
    return await Statement(sql).fetch(*args)


async def fetch_with_work_mem(work_mem: str, sql: str, *args: Any) -> list[Row]:
    """A heavy aggregate's rows; on PostgreSQL with `work_mem` for it alone (`SET LOCAL`
    inside its own transaction), so its sorts and hashes stay in memory."""
    if _on_sqlite():
        return await fetch(sql, *args)
    async with read_transaction():
        await transaction_connection().execute(f"SET LOCAL work_mem = '{work_mem}'")
        return await fetch(sql, *args)


async def stream(
    sql: str, *args: Any, chunk: int, work_mem: str | None = None
) -> AsyncIterator[list[Row]]:
    """A query's rows, `chunk` at a time. On PostgreSQL from a server-side cursor (with
    `work_mem` when given), so no more than a chunk is in memory at once; SQLite (the small,
    embedded case) reads them at once."""
    if _on_sqlite():
        rows = await fetch(sql, *args)
        for start in range(0, len(rows), chunk):
            yield rows[start : start + chunk]
        return
    template, values = QueryString(sql, *args).compile_string(engine_type="postgres")
    async with read_transaction():
        connection = transaction_connection()
        if work_mem:
            await connection.execute(f"SET LOCAL work_mem = '{work_mem}'")
        cursor = await connection.cursor(template, *values)
        while records := await cursor.fetch(chunk):
            yield [dict(record) for record in records]
