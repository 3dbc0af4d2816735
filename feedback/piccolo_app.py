from pathlib import Path

from piccolo.conf.apps import AppConfig

from feedback.accounts.models import CSM, Account, ChurnEvent, EndUser
from feedback.auth.models import ApiToken, AuditEntry, StaffUser
from feedback.ctas.models import Cta, CtaEvent, CtaType, RulesQueue, SlackEventSeen
from feedback.health.models import HealthSnapshot, UsageMetric
from feedback.kernel.app_settings import AppSetting
from feedback.mail.models import MailMessage, Suppression
from feedback.outbox.models import Outbox, SlackChannelPace
from feedback.pools.models import Pool, PoolMember
from feedback.programs.models import Participant, ParticipantStep, Program
from feedback.responses.models import Response
from feedback.surveys.models import Display, LinkClick, Schedule, Survey, WidgetKey
from feedback.themes.models import StoredThemeModel, Theme, ThemedComment, ThemeMember
from feedback.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

TABLES = [
    CSM,
    Account,
    EndUser,
    ChurnEvent,
    Survey,
    Schedule,
    WidgetKey,
    Display,
    Response,
    RulesQueue,
    StaffUser,
    ApiToken,
    AuditEntry,
    AppSetting,
    CtaType,
    Pool,
    PoolMember,
    Cta,
    CtaEvent,
    Outbox,
    SlackChannelPace,
    SlackEventSeen,
    UsageMetric,
    HealthSnapshot,
    Theme,
    StoredThemeModel,
    ThemeMember,
    ThemedComment,
    MailMessage,
    Suppression,
    Program,
    Participant,
    ParticipantStep,
    LinkClick,
    WebhookEndpoint,
    WebhookEvent,
    WebhookDelivery,
]

APP_CONFIG = AppConfig(
    app_name="feedback",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
