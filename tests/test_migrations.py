"""Migrations apply to an empty database on both engines, and match the table classes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from feedback.piccolo_app import APP_CONFIG, TABLES
from tests.cli import feedback
from tests.databases import drop_postgres_database, fresh_postgres_database

TABLE_NAMES = {t._meta.tablename for t in TABLES}


def test_migrate_builds_an_empty_sqlite_file_and_is_repeatable(tmp_dir: Path) -> None:
    env = {"FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_dir / 'fresh.sqlite3'}"}
    first = feedback("migrate", env=env)
    assert first.returncode == 0, first.stderr
    second = feedback("migrate", env=env)
    assert second.returncode == 0 and "migrations applied: 0" in second.stdout
    assert feedback("check", env=env).returncode == 0
    with sqlite3.connect(tmp_dir / "fresh.sqlite3") as connection:
        names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert names >= TABLE_NAMES
    assert "response_account_answered_at" in names
    assert mode == "wal"


def test_check_asks_for_migrate_on_an_empty_sqlite_file(tmp_dir: Path) -> None:
    env = {"FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_dir / 'empty.sqlite3'}"}
    result = feedback("check", env=env)
    assert result.returncode == 1 and "feedback migrate" in result.stderr


@pytest.mark.postgres_only
def test_migrate_builds_an_empty_postgres_database() -> None:
    import asyncio

    import asyncpg

    name, url = fresh_postgres_database()
    try:
        result = feedback("migrate", env={"FEEDBACK_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert feedback("migrate", env={"FEEDBACK_DATABASE_URL": url}).returncode == 0

        async def tables() -> set[str]:
            connection = await asyncpg.connect(url)
            try:
                rows = await connection.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
                index = await connection.fetchval(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
                    "response_account_answered_at",
                )
            finally:
                await connection.close()
            assert index is not None and "(account, answered_at)" in index
            return {r["tablename"] for r in rows}

        assert asyncio.run(tables()) >= TABLE_NAMES
    finally:
        drop_postgres_database(name)


async def test_the_committed_migrations_match_the_table_classes() -> None:
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(
        app_config=APP_CONFIG
    )
    pending = [s for group in statements for s in group.statements]
    assert pending == [], "run `piccolo migrations new feedback --auto` and commit the result"
