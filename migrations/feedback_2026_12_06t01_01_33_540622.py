from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T01:01:33:540622"
VERSION = "1.38.0"
DESCRIPTION = "pool working hours"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="feedback", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Pool",
        tablename="pool",
        column_name="timezone",
        db_column_name="timezone",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "UTC",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Pool",
        tablename="pool",
        column_name="workday_end_hour",
        db_column_name="workday_end_hour",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 17,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Pool",
        tablename="pool",
        column_name="workday_start_hour",
        db_column_name="workday_start_hour",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 9,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
