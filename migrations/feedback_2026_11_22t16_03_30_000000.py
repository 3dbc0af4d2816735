from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T16:03:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes for responses and churn events by account and time"

# Piccolo's column options only create single-column indexes; reports scan responses of an
# account in a time window, so these two need both columns.
STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS response_account_answered_at ON response (account, answered_at)",
    "CREATE INDEX IF NOT EXISTS churn_event_account_noticed_at "
    "ON churn_event (account, noticed_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
