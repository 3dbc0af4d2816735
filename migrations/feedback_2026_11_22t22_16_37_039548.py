from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-22T22:16:37:039548"
VERSION = "1.38.0"
DESCRIPTION = "a CSM's snapshots by the (csm, day) index, not one on csm alone"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="HealthSnapshot",
        tablename="health_snapshot",
        column_name="csm",
        db_column_name="csm",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
