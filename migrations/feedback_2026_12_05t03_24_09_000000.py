from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-05T03:24:09:000000"
VERSION = "1.38.0"
DESCRIPTION = "answers still waiting for the CTA rules move to rules_queue; response's mark goes"

STATEMENTS = [
    "INSERT INTO rules_queue (response, due) "
    "SELECT id, rules_due FROM response WHERE rules_due IS NOT NULL",
    # the partial index of the old mark, so that the next migration can drop the column
    # (SQLite refuses to drop an indexed column)
    "DROP INDEX IF EXISTS response_rules_due",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
