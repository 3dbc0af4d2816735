from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T18:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "one usage metric value per account, name and day; one health snapshot per account and day"
)

# Piccolo declares no multi-column unique constraints; these indexes are the upsert targets
# of INSERT ... ON CONFLICT on both engines.
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS usage_metric_account_name_day "
    "ON usage_metric (account, name, day)",
    "CREATE UNIQUE INDEX IF NOT EXISTS health_snapshot_account_day "
    "ON health_snapshot (account, day)",
    "CREATE INDEX IF NOT EXISTS health_snapshot_day_csm ON health_snapshot (day, csm)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
