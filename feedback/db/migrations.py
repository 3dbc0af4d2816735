"""Applying Piccolo's migrations and telling which have not run."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from piccolo.engine.sqlite import SQLiteEngine

from feedback.db.engine import current_engine, prepare_sqlite_file


async def migrate(verbose: bool = False) -> None:
    """Apply every migration that has not run yet."""
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
