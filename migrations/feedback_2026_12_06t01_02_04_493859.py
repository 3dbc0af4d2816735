from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-06T01:02:04:493859"
VERSION = "1.38.0"
DESCRIPTION = "program indexes: enrolled once per trigger, a step once, the due participants"

# Piccolo declares no multi-column or partial indexes. The two unique ones are the
# ON CONFLICT targets that keep two workers from enrolling a person twice or doing a step
# twice; the partial one is the worker's scan of due participants.
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS participant_program_trigger "
    "ON program_participant (program, trigger_key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS participant_step_once "
    "ON program_participant_step (participant, step_index)",
    "CREATE INDEX IF NOT EXISTS participant_due ON program_participant (next_run_at) "
    "WHERE state = 'active'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
