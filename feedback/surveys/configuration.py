"""Configuring surveys, schedules, widget keys and the global gap: validation and saving,
shared by the API and the admin pages."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec

from feedback.auth.services import audit
from feedback.kernel.cache import forget_configuration
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import ENVIRONMENTS
from feedback.kernel.errors import InputError, NotFound
from feedback.surveys import previews
from feedback.surveys.identity_secrets import new_secret, seal
from feedback.surveys.keys import identity_mode
from feedback.surveys.models import IdentityMode, Schedule, Survey, WidgetKey
from feedback.surveys.schedules import set_min_days_between_surveys
from feedback.surveys.targeting import validate_targeting

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
KEY_PREFIXES = {"production": "wk_live_", "staging": "wk_stage_", "development": "wk_dev_"}


class SurveyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    product_name: Text200 = "our product"
    texts: dict[str, dict[str, Any]] = {}
    promoter_link_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # detractors' thank-you offers "Talk to <owner>" with the owner's meeting link
    talk_to_detractors: bool = False
    theme: dict[str, str] = {}
    active: bool = True


# the database's integer columns hold 32 bits: larger values are refused naming their field
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    survey_id: Id
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    cadence_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    first_survey_after_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 14
    dismiss_backoff_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 30
    max_asks_per_cycle: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    sample_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 100.0
    max_users_per_account: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None
    targeting: dict[str, Any] = {}
    delay_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: Int32 = 0
    active: bool = True
    # where it may ask: the ids of widget keys, and environments whose keys it takes (either
    # matching is enough); both empty: through any key
    widget_keys: Annotated[list[Id], msgspec.Meta(max_length=1000)] = []
    environments: Annotated[list[str], msgspec.Meta(max_length=3)] = []


class WidgetKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    environment: Annotated[str, msgspec.Meta(pattern="^(production|staging|development)$")] = (
        "production"
    )
    allowed_origins: list[Annotated[str, msgspec.Meta(max_length=300)]] = []
    # what a widget call must prove (docs/widget.md); left out: `signed` for a new production
    # key, `browser` for staging and development, and unchanged on an update
    identity: Literal["signed", "user_hash", "browser"] | None = None
    # the former switch, still read: true asks for at least a user_hash
    require_identity: bool | None = None
    active: bool = True

    def identity_or(self, current: IdentityMode) -> IdentityMode:
        if self.identity is not None:
            return IdentityMode(self.identity)
        if self.require_identity and current is IdentityMode.browser:
            return IdentityMode.user_hash
        if self.require_identity is False and current is not IdentityMode.signed:
            return IdentityMode.browser
        return current


# what the admin page and the API say about a production key that trusts the browser
BROWSER_TRUST_WARNING = (
    "this production key trusts the browser: anyone can answer as any user of any account, "
    "create accounts and change traits with it. Require signed identity unless every page "
    "using it is internal."
)
# how long the previous identity secret still verifies after a rotation, unless retired
DEFAULT_ROTATION_HOURS = 7 * 24
MAX_ROTATION_HOURS = 90 * 24


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
    for environment in data.environments:
        if environment not in ENVIRONMENTS:
            raise InputError(
                "environments", f"expected {', '.join(ENVIRONMENTS)}, got {environment!r}"
            )


async def check_scope_keys(key_ids: list[int]) -> None:
    """Every key a schedule is limited to exists (disabled keys count: enabled again, they
    ask as before)."""
    if not key_ids:
        return
    found = {
        r["id"] for r in await WidgetKey.select(WidgetKey.id).where(WidgetKey.id.is_in(key_ids))
    }
    unknown = sorted(set(key_ids) - found)
    if unknown:
        raise InputError("widget_keys", f"no widget key {', '.join(map(str, unknown))}")


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
    values["widget_keys"] = sorted(set(data.widget_keys))
    values["environments"] = [e for e in ENVIRONMENTS if e in data.environments]
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
    await check_scope_keys(data.widget_keys)
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


def default_identity(environment: str) -> IdentityMode:
    return IdentityMode.signed if environment == "production" else IdentityMode.browser


def key_warning(environment: str, identity: IdentityMode) -> str | None:
    if environment == "production" and identity is IdentityMode.browser:
        return BROWSER_TRUST_WARNING
    return None


def _described(row: dict[str, Any]) -> dict[str, Any]:
    """A key as the API and the admin page show it: never a secret, sealed or not."""
    shown = {k: v for k, v in row.items() if "secret" not in k or k == "previous_secret_until"}
    mode = identity_mode(row.get("identity"), bool(row.get("require_identity")))
    shown["identity"] = mode.value
    shown["require_identity"] = mode is not IdentityMode.browser
    warning = key_warning(row["environment"], mode)
    if warning:
        shown["warning"] = warning
    return shown


async def create_widget_key(data: WidgetKeyIn, actor: str, source: str) -> dict[str, Any]:
    """A new key; the answer is the only place its identity secret is shown."""
    origins = check_origins(data.allowed_origins)
    mode = data.identity_or(default_identity(data.environment))
    secret = new_secret()
    row = WidgetKey(
        key=KEY_PREFIXES[data.environment] + secrets.token_urlsafe(12),
        name=data.name,
        environment=data.environment,
        allowed_origins=origins,
        identity=mode.value,
        require_identity=mode is not IdentityMode.browser,
        identity_secret_sealed=seal(secret),
        active=data.active,
    )
    await row.save()
    await audit(actor, source, "widget_key.create", row.key, detail={"identity": mode.value})
    return {
        **(await get_widget_key(int(row.id))),
        "identity_secret": secret,
    }


async def update_widget_key(
    key_id: int, data: WidgetKeyIn, actor: str, source: str
) -> dict[str, Any]:
    current = await get_widget_key(key_id)
    origins = check_origins(data.allowed_origins)
    mode = data.identity_or(IdentityMode(current["identity"]))
    await WidgetKey.update(
        {
            WidgetKey.name: data.name,
            WidgetKey.allowed_origins: origins,
            WidgetKey.identity: mode.value,
            WidgetKey.require_identity: mode is not IdentityMode.browser,
            WidgetKey.active: data.active,
        }
    ).where(WidgetKey.id == key_id)
    detail = {"identity": mode.value} if mode.value != current["identity"] else None
    await audit(actor, source, "widget_key.update", str(key_id), detail=detail)
    forget_configuration()
    return await get_widget_key(key_id)


async def rotate_identity_secret(
    key_id: int, actor: str, source: str, keep_previous_hours: int = DEFAULT_ROTATION_HOURS
) -> dict[str, Any]:
    """A new identity secret (shown only in this answer); the current one becomes the
    previous, which still verifies for `keep_previous_hours` or until it is retired, so the
    host's servers can switch over without a gap. A previous secret still kept is dropped."""
    if not 0 <= keep_previous_hours <= MAX_ROTATION_HOURS:
        raise InputError("keep_previous_hours", f"between 0 and {MAX_ROTATION_HOURS}")
    await get_widget_key(key_id)
    row = (
        await WidgetKey.select(WidgetKey.identity_secret_sealed)
        .where(WidgetKey.id == key_id)
        .first()
    )
    secret = new_secret()
    until = utcnow() + timedelta(hours=keep_previous_hours)
    await WidgetKey.update(
        {
            WidgetKey.identity_secret_sealed: seal(secret),
            WidgetKey.previous_secret_sealed: row["identity_secret_sealed"] if row else None,
            WidgetKey.previous_secret_until: until,
        }
    ).where(WidgetKey.id == key_id)
    await audit(
        actor,
        source,
        "widget_key.rotate_secret",
        str(key_id),
        detail={"previous_until": until.isoformat()},
    )
    forget_configuration()
    return {**(await get_widget_key(key_id)), "identity_secret": secret}


async def retire_previous_secret(key_id: int, actor: str, source: str) -> dict[str, Any]:
    """The previous identity secret stops verifying now."""
    await get_widget_key(key_id)
    await WidgetKey.update(
        {WidgetKey.previous_secret_sealed: None, WidgetKey.previous_secret_until: None}
    ).where(WidgetKey.id == key_id)
    await audit(actor, source, "widget_key.retire_previous_secret", str(key_id))
    forget_configuration()
    return await get_widget_key(key_id)


async def start_preview(key_id: int, actor: str, source: str) -> dict[str, Any]:
    """A preview token for a key: `?nps_preview=<token>` on a page of the host product shows
    the survey there, whatever the cadence rules say, until the token expires."""
    row = await get_widget_key(key_id)
    token, expires_at = previews.make_preview_token(row["key"])
    await audit(actor, source, "widget_key.preview", str(key_id))
    return {
        "preview_token": token,
        "expires_at": expires_at,
        "query": f"{previews.PREVIEW_QUERY_PARAMETER}={token}",
    }


async def get_widget_key(key_id: int) -> dict[str, Any]:
    row = (
        await WidgetKey.select(exclude_secrets=True)
        .where(WidgetKey.id == key_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"no widget key {key_id}")
    return _described(row)


async def list_widget_keys() -> list[dict[str, Any]]:
    rows = (
        await WidgetKey.select(exclude_secrets=True).order_by(WidgetKey.id).output(load_json=True)
    )
    return [_described(row) for row in rows]


async def save_survey_settings(data: SurveySettingsIn, actor: str, source: str) -> None:
    await set_min_days_between_surveys(data.min_days_between_surveys)
    await audit(
        actor,
        source,
        "settings.surveys",
        detail={"min_days_between_surveys": data.min_days_between_surveys},
    )


def snippet(key: str, base: str, identity: IdentityMode | str = IdentityMode.signed) -> str:
    """The copy-paste snippet for a host page (see widget/nps.js for the commands): the
    identity field the key requires (`identity_token` or `user_hash`), none for a key that
    trusts the browser."""
    mode = IdentityMode(identity)
    if mode is IdentityMode.signed:
        proof = (
            "  // after sign-in; IDENTITY_TOKEN is made by your server (see the docs: widget.md)\n"
            "  NPS('identify', { id: USER_ID, role: ROLE, locale: LOCALE },\n"
            "                  { id: ACCOUNT_ID, name: ACCOUNT_NAME, plan: PLAN },\n"
            "                  { identity_token: IDENTITY_TOKEN });\n"
        )
    elif mode is IdentityMode.user_hash:
        proof = (
            "  // after sign-in; USER_HASH is HMAC-SHA256(identity secret, USER_ID) in hex,\n"
            "  // made by your server (see the docs: widget.md)\n"
            "  NPS('identify', { id: USER_ID, role: ROLE, locale: LOCALE },\n"
            "                  { id: ACCOUNT_ID, name: ACCOUNT_NAME, plan: PLAN },\n"
            "                  { user_hash: USER_HASH });\n"
        )
    else:
        proof = (
            "  // after sign-in\n"
            "  NPS('identify', { id: USER_ID, role: ROLE, locale: LOCALE },\n"
            "                  { id: ACCOUNT_ID, name: ACCOUNT_NAME, plan: PLAN });\n"
        )
    return (
        "<script>\n"
        "  window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };\n"
        f"  NPS('init', {{ key: '{key}', base: '{base}' }});\n"
        f"{proof}"
        "</script>\n"
        f'<script async src="{base}/widget/v1/nps.js"></script>\n'
    )


async def set_widget_key_active(
    key_id: int, active: bool, actor: str, source: str
) -> dict[str, Any]:
    """Disable a key (the widget's calls with it are refused at once) or enable it again;
    nothing else about it changes, so enabling undoes disabling."""
    current = await get_widget_key(key_id)
    if current["active"] != active:
        await WidgetKey.update({WidgetKey.active: active}).where(WidgetKey.id == key_id)
        forget_configuration()
        action = "widget_key.enable" if active else "widget_key.disable"
        await audit(actor, source, action, str(key_id))
    return await get_widget_key(key_id)


def scope_words(
    widget_keys: list[int], environments: list[str], keys: dict[int, dict[str, Any]]
) -> str:
    """A schedule's scope as the admin pages say it: "Any key", "Production keys only",
    "Key: Marketing site (staging)"; `keys` by id, as `list_widget_keys` gives them."""
    parts: list[str] = []
    if environments:
        named = [e for e in ENVIRONMENTS if e in environments]
        listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        parts.append(f"{listed.capitalize()} keys" + ("" if widget_keys else " only"))
    if widget_keys:
        names = []
        for key_id in widget_keys:
            row = keys.get(key_id)
            if row is None:
                names.append(f"key {key_id} (gone)")
                continue
            state = "" if row["active"] else ", disabled"
            names.append(f"{row['name'] or row['key']} ({row['environment']}{state})")
        label = "Key: " if len(names) == 1 else "Keys: "
        parts.append((label if not parts else label.lower()) + ", ".join(names))
    return "; ".join(parts) if parts else "Any key"


def takes_key(schedule: dict[str, Any], key: dict[str, Any]) -> bool:
    """Whether a stored schedule may ask through a stored key (as `ActiveSchedule.takes`)."""
    widget_keys = schedule.get("widget_keys") or []
    environments = schedule.get("environments") or []
    if not widget_keys and not environments:
        return True
    return key["id"] in widget_keys or key["environment"] in environments
