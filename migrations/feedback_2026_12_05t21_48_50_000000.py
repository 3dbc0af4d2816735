from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-05T21:48:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "comment themes: one membership per answer and theme; a theme's answers"

# Piccolo declares no multi-column indexes; the unique one is the upsert target of
# INSERT ... ON CONFLICT on both engines and serves a response's themes and the cascade from
# response, the other a theme's answers (the theme reports, the explorer's theme filter).
STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS theme_member_response_theme "
    "ON theme_member (response, theme)",
    "CREATE INDEX IF NOT EXISTS theme_member_theme_response ON theme_member (theme, response)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
