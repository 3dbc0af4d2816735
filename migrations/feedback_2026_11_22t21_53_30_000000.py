from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T21:53:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "room in each page for in-place (HOT) updates of displays and users"

# PostgreSQL only. A display is written once and updated once (answered, dismissed, expired);
# a user's last_display_at and last_seen_at change. Neither column is indexed, so with free
# space on the page PostgreSQL updates the row in place without touching any index.
STATEMENTS = [
    "ALTER TABLE display SET (fillfactor = 70)",
    "ALTER TABLE end_user SET (fillfactor = 80)",
]


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    async def run():
        engine = engine_finder()
        if engine.engine_type != "postgres":
            return
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
