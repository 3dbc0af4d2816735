"""Data access: the only code that touches the driver's connections.

- `engine`: which engine this process uses, its pool, and health checks;
- `transactions`: write and read transactions, the current transaction's connection;
- `statements`: `Statement` (the named statements of each domain's `queries.py`), `fetch`
  and `stream` for query text assembled at run time;
- `bulk`: many rows at once (upserts, COPY), planner statistics after a load;
- `group_commit`: many callers' writes in one statement and one commit;
- `dialect`: what differs between SQLite and PostgreSQL outside the SQL text;
- `migrations`: applying Piccolo's migrations.
"""

from feedback.db.bulk import INSERT_CHUNK_ROWS, bulk_upsert, copy_rows, refresh_planner_statistics
from feedback.db.dialect import as_utc_datetime, json_object, quote_identifier
from feedback.db.engine import (
    CONNECT_TIMEOUT_SECONDS,
    close_database,
    current_engine,
    engine_for,
    is_sqlite,
    open_database,
    ping,
    prepare_sqlite_file,
    warn_when_autovacuum_is_off,
)
from feedback.db.group_commit import GroupCommit
from feedback.db.migrations import migrate, pending_migrations
from feedback.db.statements import Row, Statement, fetch, fetch_with_work_mem, stream
from feedback.db.transactions import read_transaction, transaction_connection, write_transaction

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "INSERT_CHUNK_ROWS",
    "GroupCommit",
    "Row",
    "Statement",
    "as_utc_datetime",
    "bulk_upsert",
    "close_database",
    "copy_rows",
    "current_engine",
    "engine_for",
    "fetch",
    "fetch_with_work_mem",
    "is_sqlite",
    "json_object",
    "migrate",
    "open_database",
    "pending_migrations",
    "ping",
    "prepare_sqlite_file",
    "quote_identifier",
    "read_transaction",
    "refresh_planner_statistics",
    "stream",
    "transaction_connection",
    "warn_when_autovacuum_is_off",
    "write_transaction",
]
