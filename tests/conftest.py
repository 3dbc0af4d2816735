"""Shared fixtures. The suite runs on one engine per run, chosen by TEST_DATABASE_ENGINE:

- `sqlite` (default): a fresh file in a temporary directory;
- `postgres`: a fresh database created on TEST_POSTGRES_URL (default the local
  server) and dropped at the end. With CI=true an unreachable server fails the run.

The layout mirrors the code: `unit/` (no database), `api/<domain>/` (services and the API
through an in-process client), `web/` (pages), `system/` (processes, the CLI, faults,
restarts) and `browser/` (Chromium). Tests under `system/` and `browser/` are marked
`system` and `browser`, so `pytest -m "not system and not browser"` is the quick loop.
Every test outside `unit/` starts from empty tables.
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

import pytest

from tests.support.databases import PG_ADMIN_URL, _pg_admin, _with_database, empty_tables
from tests.support.slack import standin  # noqa: F401 (a fixture for every Slack test)

ENGINE = os.environ.get("TEST_DATABASE_ENGINE", "sqlite")
ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.mkdtemp(prefix="feedback-tests-"))


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

from feedback.db import migrate  # noqa: E402


def pytest_report_header() -> str:
    return f"feedback database under test: {ENGINE} ({DATABASE_URL})"


TESTS = Path(__file__).resolve().parent
UNIT, SYSTEM, BROWSER = TESTS / "unit", TESTS / "system", TESTS / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(SYSTEM):
            item.add_marker(pytest.mark.system)
        elif path.is_relative_to(BROWSER):
            item.add_marker(pytest.mark.browser)
        if not path.is_relative_to(UNIT):
            item.fixturenames.insert(0, "clean_tables")  # before the test's own data fixtures
        if ENGINE != "postgres" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only; the postgres run covers it"))
        if ENGINE != "sqlite" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite-only; the sqlite run covers it"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ENGINE == "postgres":
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def schema() -> AsyncIterator[None]:
    from feedback.db import close_database, open_database

    await migrate()
    await open_database(pool_size=4)
    yield
    await close_database()


@pytest.fixture
async def clean_tables(schema: None) -> AsyncIterator[None]:
    """Empty tables and forgotten caches after the test (every test outside `unit/`)."""
    from feedback.ctas.rule_settings import forget_cta_rules
    from feedback.kernel.cache import forget_configuration

    forget_configuration()
    forget_cta_rules()
    yield
    await empty_tables()


@pytest.fixture
def database_url() -> str:
    return DATABASE_URL


@pytest.fixture
def engine_name() -> str:
    return ENGINE


@pytest.fixture(scope="session")
def app() -> Any:
    """The application, built once for the session with the test settings (building it
    costs about a third of a second; its only per-test state, the in-memory rate limits, is
    reset for each `client`)."""
    from feedback.app import create_app

    return create_app()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """An HTTP client that calls the app in this event loop.

    Litestar's AsyncTestClient runs the app on a second event loop in another thread, where
    asyncpg's pool (bound to this loop) breaks. httpx's ASGI transport keeps one loop, as a
    real server has; the app's lifespan only opens that pool, which the `schema` fixture
    holds open for the session (serving in a real process is tested in tests/system).
    """
    import httpx

    await app.state["rate_limiter"].close()  # forget earlier tests' requests
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local", follow_redirects=False
    ) as test_client:
        yield test_client


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=TMP) as path:
        yield Path(path)
