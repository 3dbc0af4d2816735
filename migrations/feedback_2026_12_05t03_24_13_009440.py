from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T03:24:13:009440"
VERSION = "1.38.0"
DESCRIPTION = "response.rules_due goes: the CTA rules' queue is rules_queue"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    manager.drop_column(
        table_class_name="Response",
        tablename="response",
        column_name="rules_due",
        db_column_name="rules_due",
        schema=None,
    )

    return manager
