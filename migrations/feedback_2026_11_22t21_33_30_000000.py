from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T21:33:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "the CTA rule runner's queue: only answers still waiting are indexed"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS response_rules_due ON response (rules_due) "
    "WHERE rules_due IS NOT NULL",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
