"""Configuring surveys, schedules, widget keys and the global gap: validation and saving,
shared by the API and the admin pages."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated, Any

import msgspec

from feedback.auth.services import audit
from feedback.kernel.cache import forget_configuration
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError, NotFound
from feedback.surveys.models import Schedule, Survey, WidgetKey
from feedback.surveys.schedules import set_min_days_between_surveys
from feedback.surveys.targeting import validate_targeting

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
KEY_PREFIXES = {"production": "wk_live_", "staging": "wk_stage_", "development": "wk_dev_"}


class SurveyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    product_name: Text200 = "our product"
    texts: dict[str, dict[str, Any]] = {}
    promoter_link_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    theme: dict[str, str] = {}
    active: bool = True


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    survey_id: int
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    cadence_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    first_survey_after_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 14
    dismiss_backoff_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 30
    max_asks_per_cycle: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    sample_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 100.0
    max_users_per_account: Annotated[int, msgspec.Meta(ge=1)] | None = None
    targeting: dict[str, Any] = {}
    delay_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int = 0
    active: bool = True


class WidgetKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    environment: Annotated[str, msgspec.Meta(pattern="^(production|staging|development)$")] = (
        "production"
    )
    allowed_origins: list[Annotated[str, msgspec.Meta(max_length=300)]] = []
    require_identity: bool = False
    active: bool = True


class SurveySettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    min_days_between_surveys: Annotated[int, msgspec.Meta(ge=0, le=365)]


ORIGIN = re.compile(r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?)$")


def check_schedule(data: ScheduleIn) -> None:
    problems = validate_targeting(data.targeting)
    if problems:
        raise InputError("targeting", "; ".join(problems))
    for field in ("starts_at", "ends_at"):
        value = getattr(data, field)
        if value is not None and value.tzinfo is None:
            raise InputError(field, "needs a time zone offset, e.g. 2027-01-01T00:00:00Z")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise InputError("ends_at", "must be after starts_at")


def check_origins(origins: list[str]) -> list[str]:
    for origin in origins:
        if not ORIGIN.match(origin):
            raise InputError(
                "allowed_origins", f"{origin!r} is not an origin like https://app.example.com"
            )
    return [o.rstrip("/") for o in origins]


async def _require(table: type[Any], row_id: int, what: str) -> None:
    if not await table.exists().where(table.id == row_id):
        raise NotFound(f"no {what} {row_id}")


def _schedule_values(data: ScheduleIn) -> dict[str, Any]:
    values = msgspec.structs.asdict(data)
    values["survey"] = values.pop("survey_id")
    return values


async def save_survey(data: SurveyIn, actor: str, source: str, survey_id: int | None = None) -> int:
    values = msgspec.structs.asdict(data)
    if survey_id is None:
        row = Survey(**values)
        await row.save()
        survey_id = int(row.id)
        await audit(actor, source, "survey.create", str(survey_id))
    else:
        await _require(Survey, survey_id, "survey")
        await Survey.update(**values, updated_at=utcnow()).where(Survey.id == survey_id)
        await audit(actor, source, "survey.update", str(survey_id))
    forget_configuration()
    return survey_id


async def save_schedule(
    data: ScheduleIn, actor: str, source: str, schedule_id: int | None = None
) -> int:
    check_schedule(data)
    if not await Survey.exists().where(Survey.id == data.survey_id):
        raise InputError("survey_id", f"no survey {data.survey_id}")
    if schedule_id is None:
        row = Schedule(**_schedule_values(data))
        await row.save()
        schedule_id = int(row.id)
        await audit(actor, source, "schedule.create", str(schedule_id))
    else:
        await _require(Schedule, schedule_id, "schedule")
        await Schedule.update(**_schedule_values(data), updated_at=utcnow()).where(
            Schedule.id == schedule_id
        )
        await audit(actor, source, "schedule.update", str(schedule_id))
    forget_configuration()
    return schedule_id


async def create_widget_key(data: WidgetKeyIn, actor: str, source: str) -> dict[str, Any]:
    """A new key; the answer is the only place its identity secret is shown."""
    origins = check_origins(data.allowed_origins)
    row = WidgetKey(
        key=KEY_PREFIXES[data.environment] + secrets.token_urlsafe(12),
        name=data.name,
        environment=data.environment,
        allowed_origins=origins,
        identity_secret=secrets.token_hex(32),
        require_identity=data.require_identity,
        active=data.active,
    )
    await row.save()
    await audit(actor, source, "widget_key.create", row.key)
    return {
        "id": row.id,
        "key": row.key,
        "name": row.name,
        "environment": row.environment,
        "allowed_origins": origins,
        "require_identity": row.require_identity,
        "identity_secret": row.identity_secret,
        "active": row.active,
    }


async def update_widget_key(
    key_id: int, data: WidgetKeyIn, actor: str, source: str
) -> dict[str, Any]:
    await _require(WidgetKey, key_id, "widget key")
    origins = check_origins(data.allowed_origins)
    await WidgetKey.update(
        {
            WidgetKey.name: data.name,
            WidgetKey.allowed_origins: origins,
            WidgetKey.require_identity: data.require_identity,
            WidgetKey.active: data.active,
        }
    ).where(WidgetKey.id == key_id)
    await audit(actor, source, "widget_key.update", str(key_id))
    forget_configuration()
    return await get_widget_key(key_id)


async def get_widget_key(key_id: int) -> dict[str, Any]:
    row = (
        await WidgetKey.select(exclude_secrets=True)
        .where(WidgetKey.id == key_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no widget key {key_id}")
    return row


async def save_survey_settings(data: SurveySettingsIn, actor: str, source: str) -> None:
    await set_min_days_between_surveys(data.min_days_between_surveys)
    await audit(
        actor,
        source,
        "settings.surveys",
        detail={"min_days_between_surveys": data.min_days_between_surveys},
    )


def snippet(key: str, base: str) -> str:
    """The copy-paste snippet for a host page (see widget/nps.js for the commands)."""
    return (
        "<script>\n"
        "  window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };\n"
        f"  NPS('init', {{ key: '{key}', base: '{base}' }});\n"
        "  // after sign-in; user_hash = HMAC-SHA256(identity secret, user id) from your server\n"
        "  NPS('identify', { id: USER_ID, role: ROLE, locale: LOCALE },\n"
        "                  { id: ACCOUNT_ID, name: ACCOUNT_NAME, plan: PLAN },\n"
        "                  { user_hash: USER_HASH });\n"
        "</script>\n"
        f'<script async src="{base}/widget/v1/nps.js"></script>\n'
    )
