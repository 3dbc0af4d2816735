"""Shared fixtures. The suite runs on one engine per run, chosen by TEST_DATABASE_ENGINE:

- `sqlite` (default): a fresh file in a temporary directory;
- `postgres`: a fresh database created on TEST_POSTGRES_URL (default the local
  server) and dropped at the end. With CI=true an unreachable server fails the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ENGINE = os.environ.get("TEST_DATABASE_ENGINE", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.mkdtemp(prefix="feedback-tests-"))


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _create_postgres_database() -> str:
    name = f"feedback_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError) as exc:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}"
        # never a silent skip: the run that should test PostgreSQL fails
        print(message, file=sys.stderr)
        raise SystemExit(message) from exc
    return name


if ENGINE == "postgres":
    PG_DATABASE = _create_postgres_database()
    DATABASE_URL = _with_database(PG_ADMIN_URL, PG_DATABASE)
elif ENGINE == "sqlite":
    PG_DATABASE = ""
    DATABASE_URL = f"sqlite:///{TMP / 'test.sqlite3'}"
else:
    raise SystemExit(f"TEST_DATABASE_ENGINE must be sqlite or postgres, got {ENGINE!r}")

for name in [k for k in os.environ if k.startswith("FEEDBACK_")]:
    del os.environ[name]
os.environ["FEEDBACK_DATABASE_URL"] = DATABASE_URL
os.environ["FEEDBACK_SECRET_KEY"] = "test-secret-key-0123456789"
os.environ["FEEDBACK_ENV"] = "test"
os.environ["PICCOLO_CONF"] = "feedback.piccolo_conf"

from feedback.db import current_engine, migrate  # noqa: E402
from feedback.piccolo_app import TABLES  # noqa: E402


def pytest_report_header() -> str:
    return f"feedback database under test: {ENGINE} ({DATABASE_URL})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE != "postgres" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only; the postgres run covers it"))
        if ENGINE != "sqlite" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite-only; the sqlite run covers it"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ENGINE == "postgres":
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


@pytest.fixture(scope="session", autouse=True)
async def schema() -> AsyncIterator[None]:
    from feedback.db import close_database, open_database

    await migrate()
    await open_database(pool_size=4)
    yield
    await close_database()


@pytest.fixture(autouse=True)
async def clean_tables(schema: None) -> AsyncIterator[None]:
    from feedback.ctas.services import forget_cta_rules
    from feedback.surveys.services import forget_configuration

    forget_configuration()
    forget_cta_rules()
    yield
    forget_configuration()
    forget_cta_rules()
    engine = current_engine()
    names = [t._meta.tablename for t in reversed(TABLES)]
    if engine.engine_type == "postgres":
        await engine.run_ddl(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
    else:
        for name in names:
            await engine.run_ddl(f"DELETE FROM {name}")


@pytest.fixture
def database_url() -> str:
    return DATABASE_URL


@pytest.fixture
def engine_name() -> str:
    return ENGINE


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    """An HTTP client that calls the app in this event loop.

    Litestar's AsyncTestClient runs the app on a second event loop in another thread, where
    asyncpg's pool (bound to this loop) breaks. httpx's ASGI transport keeps one loop, as a
    real server has; the app's lifespan only opens that pool, which the `schema` fixture
    holds open for the session (serving in a real process is tested in test_cli).
    """
    import httpx

    from feedback.app import create_app

    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local", follow_redirects=False
    ) as test_client:
        yield test_client


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=TMP) as path:
        yield Path(path)


def fresh_postgres_database() -> tuple[str, str]:
    """A second, empty PostgreSQL database (name, url) for migration tests."""
    name = f"feedback_empty_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name, _with_database(PG_ADMIN_URL, name)


def drop_postgres_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
