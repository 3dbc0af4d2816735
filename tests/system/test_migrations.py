"""Migrations apply to an empty database on both engines, and match the table classes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from feedback.piccolo_app import APP_CONFIG, TABLES
from tests.support.databases import drop_postgres_database, fresh_postgres_database
from tests.support.processes import feedback

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


# the last migration before the CTA rules' queue became a table of its own
BEFORE_RULES_QUEUE = "2026-12-05T03:24:05:409165"
WAITING_ANSWER = [
    "INSERT INTO account (id, external_id, name) VALUES (1, 'a1', 'A1')",
    "INSERT INTO response (id, idempotency_key, account, score, answered_at, rules_due) "
    "VALUES (1, 'k1', 1, 2, '2026-12-01T10:00:00+00:00', '2026-12-01T10:00:00+00:00')",
    "INSERT INTO response (id, idempotency_key, account, score, answered_at) "
    "VALUES (2, 'k2', 1, 8, '2026-12-01T10:00:00+00:00')",
]


PICCOLO = "from piccolo.main import main; main()"


def migrate_to(target: str, env: dict[str, str]) -> None:
    """`piccolo migrations forwards feedback <target>`, as an older release left a database."""
    done = subprocess.run(
        [sys.executable, "-c", PICCOLO, "migrations", "forwards", "feedback", target],
        env={**os.environ, "PICCOLO_CONF": "feedback.piccolo_conf", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_answers_waiting_for_the_rules_move_to_their_queue_sqlite(tmp_dir: Path) -> None:
    path = tmp_dir / "old.sqlite3"
    env = {"FEEDBACK_DATABASE_URL": f"sqlite:///{path}"}
    migrate_to(BEFORE_RULES_QUEUE, env)
    with sqlite3.connect(path) as connection:
        for statement in WAITING_ANSWER:
            connection.execute(statement)
    upgraded = feedback("migrate", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(path) as connection:
        queued = connection.execute("SELECT response, due FROM rules_queue").fetchall()
        columns = {row[1] for row in connection.execute("PRAGMA table_info(response)")}
    assert [response for response, _ in queued] == [1]
    assert "rules_due" not in columns


@pytest.mark.postgres_only
def test_answers_waiting_for_the_rules_move_to_their_queue_postgres() -> None:
    name, url = fresh_postgres_database()

    async def run(*statements: str) -> list[Any]:
        """Each statement in turn; the rows of the last."""
        connection = await asyncpg.connect(url)
        try:
            rows: list[Any] = []
            for statement in statements:
                rows = await connection.fetch(statement)
            return rows
        finally:
            await connection.close()

    try:
        migrate_to(BEFORE_RULES_QUEUE, {"FEEDBACK_DATABASE_URL": url})
        asyncio.run(run(*WAITING_ANSWER))
        upgraded = feedback("migrate", env={"FEEDBACK_DATABASE_URL": url})
        assert upgraded.returncode == 0, upgraded.stderr
        queued = asyncio.run(run("SELECT response, due FROM rules_queue"))
        sql = "SELECT column_name FROM information_schema.columns WHERE table_name = 'response'"
        columns = asyncio.run(run(sql))
        assert [row["response"] for row in queued] == [1]
        assert "rules_due" not in {row["column_name"] for row in columns}
    finally:
        drop_postgres_database(name)
