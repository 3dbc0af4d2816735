from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-06T01:04:39:743122"
VERSION = "1.38.0"
DESCRIPTION = "mail indexes: the deliverer's due mails"

# Piccolo declares no multi-column indexes: the deliverers' claim scans the pending and
# lapsed mails by status and due time.
STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (status, next_attempt_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
