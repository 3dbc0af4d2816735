"""Telling a database that is away from a request that went wrong."""

from __future__ import annotations

import traceback

# how long clients should wait before trying again while the database is away (a restart or a
# failover usually takes a few seconds)
DATABASE_RETRY_AFTER_SECONDS = 5


def _raised_in_asyncpg(exc: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").startswith("asyncpg")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says the database cannot be reached
    now: refused, cut or timed-out connections, a server shutting down or starting up, no
    free connection slot. Not a bug in the request: the answer is 503, and the same request
    succeeds once the database is back (the pool opens new connections by itself)."""
    import asyncpg

    unreachable = (
        asyncpg.PostgresConnectionError,  # also "connection was closed in the middle of operation"
        asyncpg.AdminShutdownError,  # terminating connection due to administrator command
        asyncpg.CrashShutdownError,
        asyncpg.CannotConnectNowError,  # the database system is starting up / shutting down
        asyncpg.TooManyConnectionsError,
    )
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, unreachable):
            return True
        # a pooled connection the server ended while it was idle (a restart) can be handed
        # out before asyncpg reads the end of the stream; its protocol is still consuming
        # the server's "terminating connection" error
        if isinstance(cause, asyncpg.InternalClientError) and str(cause).startswith(
            "cannot switch to state"
        ):
            return True
        # refused, reset, unresolvable host, connect timeout: only when the driver raised it
        # (a Slack call timing out is not the database)
        if isinstance(cause, OSError | TimeoutError) and _raised_in_asyncpg(cause):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def unique_violation(exc: BaseException) -> bool:
    """Whether `exc` is a unique index refusing a write, on either engine (PostgreSQL's 23505,
    SQLite's "UNIQUE constraint failed")."""
    import sqlite3

    import asyncpg

    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(exc)
