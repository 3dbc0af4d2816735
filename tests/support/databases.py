"""PostgreSQL helpers for the tests: a fresh database per run, and empty ones for migration
tests. (Kept out of conftest.py: importing conftest as a module would run it a second time,
with a new temporary database in the environment of every child process.)"""

from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import urlsplit

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def fresh_postgres_database() -> tuple[str, str]:
    """A second, empty PostgreSQL database (name, url) for migration tests."""
    name = f"feedback_empty_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name, _with_database(PG_ADMIN_URL, name)


def drop_postgres_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def empty_tables() -> None:
    """Every table emptied and the configuration caches forgotten: what each test outside
    `unit/` gets afterwards (tests/conftest.py's `clean_tables`), and what a module that loads
    its data once does when it is done."""
    from feedback.ctas.rule_settings import forget_cta_rules
    from feedback.db import current_engine
    from feedback.kernel.cache import forget_configuration
    from feedback.piccolo_app import TABLES

    forget_configuration()
    forget_cta_rules()
    engine = current_engine()
    names = [t._meta.tablename for t in reversed(TABLES)]
    if engine.engine_type == "postgres":
        await engine.run_ddl(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
    else:
        for name in names:
            await engine.run_ddl(f"DELETE FROM {name}")
