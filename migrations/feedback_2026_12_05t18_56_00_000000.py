from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Boolean, Text, Varchar
from piccolo.table import Table

ID = "2026-12-05T18:56:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "widget keys: identity secrets encrypted with the service's secret key; keys that "
    "required identity keep the user_hash check, the others keep trusting the browser"
)


class WidgetKey(Table, tablename="widget_key"):
    """The columns this migration reads and writes, as they are at this point."""

    identity_secret = Varchar(length=128, null=True, default=None)
    identity_secret_sealed = Text(null=True, default=None)
    require_identity = Boolean(default=False)
    identity = Varchar(length=20, default="browser")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="feedback", description=DESCRIPTION)

    async def run():
        from feedback.settings import get_settings
        from feedback.surveys.identity_secrets import seal

        await WidgetKey.update({WidgetKey.identity: "user_hash"}, force=True).where(
            WidgetKey.require_identity == True  # noqa: E712
        )
        rows = await WidgetKey.select(WidgetKey.id, WidgetKey.identity_secret).where(
            WidgetKey.identity_secret.is_not_null()
        )
        if rows and get_settings().secret_key_is_generated:
            # a secret sealed under a key generated for this process could never be read again
            raise RuntimeError(
                "FEEDBACK_SECRET_KEY must be set to encrypt the widget keys' identity secrets: "
                "set it (and keep it) and run the migrations again"
            )
        for row in rows:
            await WidgetKey.update(
                {
                    WidgetKey.identity_secret_sealed: seal(row["identity_secret"]),
                    WidgetKey.identity_secret: None,
                }
            ).where(WidgetKey.id == row["id"])

    manager.add_raw(run)
    return manager
