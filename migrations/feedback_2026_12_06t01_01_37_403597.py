from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-06T01:01:37:403597"
VERSION = "1.38.0"
DESCRIPTION = "pool indexes: a CSM once per pool; the pool SLA job's open pooled CTAs"

# Both engines support these (a partial index with WHERE on SQLite and PostgreSQL alike).
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS pool_member_once ON pool_member (pool, csm)",
    "CREATE INDEX IF NOT EXISTS cta_pool_open ON cta (pool, created_at) "
    "WHERE pool IS NOT NULL AND status <> 'closed'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
