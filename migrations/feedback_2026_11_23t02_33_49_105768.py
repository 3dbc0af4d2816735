from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-23T02:33:49:105768"
VERSION = "1.38.0"
DESCRIPTION = "usage metrics: no index on account alone (the unique (account, name, day) index covers it)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="UsageMetric",
        tablename="usage_metric",
        column_name="account",
        db_column_name="account",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
