from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T18:30:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open CTA per account, type and reason; outbox claim order"

# Partial indexes (both engines support WHERE on CREATE INDEX): a closed CTA frees its slot,
# so the same signal later raises a new CTA.
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS cta_one_open ON cta (account, type, reason) "
    "WHERE status <> 'closed'",
    "CREATE INDEX IF NOT EXISTS cta_owner_status ON cta (owner, status)",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at) "
    "WHERE status IN ('pending', 'sending')",
    "CREATE INDEX IF NOT EXISTS outbox_channel_due ON outbox (channel, status, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
