from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-23T00:45:37:538629"
VERSION = "1.38.0"
DESCRIPTION = "health snapshots: no index on account or day alone (the composite ones cover them)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="HealthSnapshot",
        tablename="health_snapshot",
        column_name="account",
        db_column_name="account",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="HealthSnapshot",
        tablename="health_snapshot",
        column_name="day",
        db_column_name="day",
        params={"index": False},
        old_params={"index": True},
        column_class=Date,
        old_column_class=Date,
        schema=None,
    )

    return manager
