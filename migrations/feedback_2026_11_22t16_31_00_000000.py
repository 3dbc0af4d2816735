from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T16:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one response per display; displays by user and schedule"

# SQLite cannot add a UNIQUE column, so uniqueness of response.display is an index
# (NULLs, i.e. imported responses, stay distinct on both engines).
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS response_display_unique ON response (display)",
    "CREATE INDEX IF NOT EXISTS display_user_schedule ON display (end_user, schedule)",
    "CREATE INDEX IF NOT EXISTS display_account_schedule_shown "
    "ON display (account, schedule, shown_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
