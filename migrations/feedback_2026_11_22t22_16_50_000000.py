from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T22:16:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "health snapshots by CSM and day"

# A CSM's or a team's health trend over a window (GROUP BY day) reads only that window's
# rows; the index on csm alone that it replaces read the CSM's whole history.
STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS health_snapshot_csm_day ON health_snapshot (csm, day)",
]


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
