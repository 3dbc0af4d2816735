"""A throwaway database for one benchmark run: a fresh SQLite file, or a new PostgreSQL
database beside the one `--database-url` names, dropped afterwards. Benchmarks import it as
`from scratch_database import run_in_scratch_database` (bench/ is on their path)."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit


async def _admin(database_url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def run_in_scratch_database(
    database_url: str, prefix: str, main: Callable[[], Coroutine[Any, Any, int]]
) -> int:
    """Point FEEDBACK_DATABASE_URL at a scratch database (SQLite when `database_url` starts
    with "sqlite", else a new PostgreSQL database named `prefix` and a random suffix), run
    `main`, drop the database and return main's exit code."""
    name = None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    else:
        name = f"{prefix}_{secrets.token_hex(3)}"
        asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
        url = urlsplit(database_url)._replace(path=f"/{name}").geturl()
    os.environ["FEEDBACK_DATABASE_URL"] = url
    os.environ.setdefault("FEEDBACK_SECRET_KEY", "bench-secret-key-0123456789")
    try:
        return asyncio.run(main())
    finally:
        if name is not None:
            asyncio.run(_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
