"""HTTP for survey delivery: the widget's endpoints and the admin API for surveys.

Widget endpoints live under /widget/v1/{key}/ so that a CORS preflight, which carries no
body, can still be checked against the key's allowed origins. The widget sends its JSON as
text/plain, a "simple" request that needs no preflight at all; application/json works too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put, route
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.auth.models import Role
from feedback.auth.services import audit
from feedback.db import utcnow
from feedback.errors import InputError, error_body
from feedback.surveys import services
from feedback.surveys.models import Schedule, Survey, WidgetKey
from feedback.surveys.targeting import validate_targeting

WIDGET_BODY_LIMIT = 64 * 1024
MAX_TRAITS = 50
T = TypeVar("T")

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
TraitValue = str | int | float | bool | None


class CheckIn(msgspec.Struct):
    user_id: Text200
    account_id: Text200
    traits: dict[str, TraitValue] = {}
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    user_hash: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    force: bool = False


class ScoreIn(msgspec.Struct):
    display_token: Token
    client_id: Annotated[str, msgspec.Meta(min_length=8, max_length=100)]
    score: Annotated[int, msgspec.Meta(ge=0, le=10)]


class CommentIn(msgspec.Struct):
    display_token: Token
    comment: Annotated[str, msgspec.Meta(max_length=5000)]


class DismissIn(msgspec.Struct):
    display_token: Token


_FIELD_IN_ERROR = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")


def decode(body: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        named = _FIELD_IN_ERROR.search(message) or re.search(r"field `([^`]+)`", message)
        raise InputError(named.group(1) if named else "body", message) from None
    except msgspec.DecodeError as exc:
        raise InputError("body", f"invalid JSON: {exc}") from None


def cors_headers(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {"vary": "Origin"}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


async def widget_call(
    request: Request[Any, Any, Any],
    key: str,
    handle: Callable[[services.KeyInfo, bytes], Awaitable[tuple[int, dict[str, Any]]]],
) -> Response[Any]:
    """Rate limits, key, origin, then the body: errors after the origin check carry CORS
    headers so the widget can read them."""
    await enforce_rate_limit(request, "ip", request.client.host if request.client else "-")
    info = await services.load_key(key)
    origin = request.headers.get("origin")
    services.require_origin(info, origin)
    headers = cors_headers(origin)
    try:
        await enforce_rate_limit(request, "key", info.key)
        status, body = await handle(info, await request.body())
    except HTTPException as exc:
        detail = exc.extra if isinstance(exc.extra, list) else []
        return Response(
            error_body(exc.detail, detail), status_code=exc.status_code, headers=headers
        )
    return Response(body, status_code=status, headers={**headers, "cache-control": "no-store"})


class TooManyRequests(HTTPException):
    status_code = 429


async def enforce_rate_limit(request: Request[Any, Any, Any], scope: str, who: str) -> None:
    settings = request.app.state["settings"]
    limit = settings.widget_rate_per_ip if scope == "ip" else settings.widget_rate_per_key
    if limit <= 0:
        return
    verdict = await request.app.state["rate_limiter"].hit(f"{scope}:{who}", limit, 60)
    if not verdict.allowed:
        raise TooManyRequests(
            "too many requests",
            headers={"retry-after": str(verdict.retry_after)},
            extra=[
                {
                    "field": scope,
                    "message": f"over {limit} per minute; retry in {verdict.retry_after} s",
                }
            ],
        )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class WidgetController(Controller):
    path = "/widget/v1/{key:str}"
    tags = ["widget"]
    request_max_body_size = WIDGET_BODY_LIMIT

    @route(
        ["/eligibility", "/responses", "/comments", "/dismissals"],
        http_method=[HttpMethod.OPTIONS],
        include_in_schema=False,
    )
    async def preflight(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[None]:
        info = await services.load_key(key)
        origin = request.headers.get("origin")
        services.require_origin(info, origin)
        return Response(
            None,
            status_code=204,
            headers={
                **cors_headers(origin),
                "access-control-allow-methods": "POST, OPTIONS",
                "access-control-allow-headers": "content-type",
                "access-control-max-age": "86400",
            },
        )

    @post("/eligibility", summary="Should this user see a survey now?", status_code=200)
    async def eligibility(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[Any]:
        """Public, with a widget key from an allowed origin. Body: `user_id`, `account_id`,
        `traits` (role, plan, locale, email, account_name, and any custom ones), `url`, and
        `user_hash` = hex HMAC-SHA256(identity secret, user_id) when the key requires it.
        Answers a survey to show with its display token, or `show: false` with the time of
        the next useful check."""

        async def handle(info: services.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, CheckIn)
            if len(data.traits) > MAX_TRAITS:
                raise InputError("traits", f"at most {MAX_TRAITS} traits")
            services.verify_identity(info, data.user_id, data.user_hash)
            outcome = await services.check_eligibility(
                info, data.user_id, data.account_id, data.traits, data.url, force=data.force
            )
            if not outcome.show or outcome.display is None:
                return 200, {"show": False, "next_check_at": iso(outcome.next_check_at)}
            display = outcome.display
            return 200, {
                "show": True,
                "display_token": display["token"],
                "locale": display["locale"],
                "texts": display["texts"],
                "theme": display["theme"],
                "promoter_link_url": display["promoter_link_url"],
                "delay_seconds": display["delay_seconds"],
                "next_check_at": iso(outcome.next_check_at),
            }

        return await widget_call(request, key, handle)

    @post("/responses", summary="Record a score (idempotent by client_id)", status_code=201)
    async def responses(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. 201 the first time, 200 for a retry."""

        async def handle(info: services.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, ScoreIn)
            created, follow_up = await services.record_score(
                info, data.display_token, data.client_id, data.score
            )
            return (201 if created else 200), follow_up

        return await widget_call(request, key, handle)

    @post("/comments", summary="Add the comment to a recorded score", status_code=200)
    async def comments(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. Repeating it replaces the comment."""

        async def handle(info: services.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, CommentIn)
            await services.record_comment(info, data.display_token, data.comment)
            return 200, {"ok": True}

        return await widget_call(request, key, handle)

    @post("/dismissals", summary="The user closed the survey", status_code=200)
    async def dismissals(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[Any]:
        """Public, with a widget key."""

        async def handle(info: services.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, DismissIn)
            return 200, {"dismissed": await services.dismiss(info, data.display_token)}

        return await widget_call(request, key, handle)


# -- admin API ---------------------------------------------------------------------------


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


ORIGIN = re.compile(r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$")


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
        raise NotFoundException(f"no {what} {row_id}")


def _schedule_values(data: ScheduleIn) -> dict[str, Any]:
    values = msgspec.structs.asdict(data)
    values["survey"] = values.pop("survey_id")
    return values


class SurveyAdminController(Controller):
    path = "/api/v1"
    tags = ["surveys"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/surveys", summary="Surveys", **access(Role.admin, Role.manager, Role.analyst))
    async def list_surveys(self) -> list[dict[str, Any]]:
        return await Survey.select().order_by(Survey.id).output(load_json=True)

    @post("/surveys", summary="Create a survey", **access(Role.admin))
    async def create_survey(
        self, principal: CurrentPrincipal, data: JSONBody[SurveyIn]
    ) -> dict[str, Any]:
        row = Survey(**msgspec.structs.asdict(data))
        await row.save()
        await audit(principal.actor, principal.source, "survey.create", str(row.id))
        return {"id": row.id, **msgspec.structs.asdict(data)}

    @put("/surveys/{survey_id:int}", summary="Change a survey", **access(Role.admin))
    async def update_survey(
        self, principal: CurrentPrincipal, survey_id: FromPath[int], data: JSONBody[SurveyIn]
    ) -> dict[str, Any]:
        await _require(Survey, survey_id, "survey")
        await Survey.update({**msgspec.structs.asdict(data), "updated_at": utcnow()}).where(
            Survey.id == survey_id
        )
        await audit(principal.actor, principal.source, "survey.update", str(survey_id))
        return {"id": survey_id, **msgspec.structs.asdict(data)}

    @get("/schedules", summary="Schedules", **access(Role.admin, Role.manager, Role.analyst))
    async def list_schedules(self) -> list[dict[str, Any]]:
        return await Schedule.select().order_by(Schedule.id).output(load_json=True)

    @post("/schedules", summary="Create a schedule", **access(Role.admin))
    async def create_schedule(
        self, principal: CurrentPrincipal, data: JSONBody[ScheduleIn]
    ) -> dict[str, Any]:
        check_schedule(data)
        if not await Survey.exists().where(Survey.id == data.survey_id):
            raise InputError("survey_id", f"no survey {data.survey_id}")
        row = Schedule(**_schedule_values(data))
        await row.save()
        await audit(principal.actor, principal.source, "schedule.create", str(row.id))
        return {"id": row.id, **msgspec.structs.asdict(data)}

    @put("/schedules/{schedule_id:int}", summary="Change a schedule", **access(Role.admin))
    async def update_schedule(
        self, principal: CurrentPrincipal, schedule_id: FromPath[int], data: JSONBody[ScheduleIn]
    ) -> dict[str, Any]:
        check_schedule(data)
        await _require(Schedule, schedule_id, "schedule")
        if not await Survey.exists().where(Survey.id == data.survey_id):
            raise InputError("survey_id", f"no survey {data.survey_id}")
        await Schedule.update({**_schedule_values(data), "updated_at": utcnow()}).where(
            Schedule.id == schedule_id
        )
        await audit(principal.actor, principal.source, "schedule.update", str(schedule_id))
        return {"id": schedule_id, **msgspec.structs.asdict(data)}

    @get("/widget-keys", summary="Widget keys (never their identity secret)", **access(Role.admin))
    async def list_keys(self) -> list[dict[str, Any]]:
        return (
            await WidgetKey.select(exclude_secrets=True)
            .order_by(WidgetKey.id)
            .output(load_json=True)
        )

    @post(
        "/widget-keys",
        summary="Create a widget key; its identity secret is shown once",
        **access(Role.admin),
    )
    async def create_key(
        self, principal: CurrentPrincipal, data: JSONBody[WidgetKeyIn]
    ) -> dict[str, Any]:
        origins = check_origins(data.allowed_origins)
        prefix = {"production": "wk_live_", "staging": "wk_stage_", "development": "wk_dev_"}
        row = WidgetKey(
            key=prefix[data.environment] + secrets.token_urlsafe(12),
            name=data.name,
            environment=data.environment,
            allowed_origins=origins,
            identity_secret=secrets.token_hex(32),
            require_identity=data.require_identity,
            active=data.active,
        )
        await row.save()
        await audit(principal.actor, principal.source, "widget_key.create", row.key)
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

    @put(
        "/widget-keys/{key_id:int}",
        summary="Change a widget key's origins or state",
        **access(Role.admin),
    )
    async def update_key(
        self, principal: CurrentPrincipal, key_id: FromPath[int], data: JSONBody[WidgetKeyIn]
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
        await audit(principal.actor, principal.source, "widget_key.update", str(key_id))
        return (
            await WidgetKey.select(exclude_secrets=True)
            .where(WidgetKey.id == key_id)
            .output(load_json=True)
            .first()
        )

    @delete("/widget-keys/{key_id:int}", summary="Disable a widget key", **access(Role.admin))
    async def disable_key(self, principal: CurrentPrincipal, key_id: FromPath[int]) -> None:
        await _require(WidgetKey, key_id, "widget key")
        await WidgetKey.update({WidgetKey.active: False}).where(WidgetKey.id == key_id)
        await audit(principal.actor, principal.source, "widget_key.disable", str(key_id))

    @get(
        "/settings/surveys",
        summary="Global survey settings",
        **access(Role.admin, Role.manager, Role.analyst),
    )
    async def survey_settings(self) -> dict[str, Any]:
        return {"min_days_between_surveys": await services.min_days_between_surveys()}

    @put("/settings/surveys", summary="Change global survey settings", **access(Role.admin))
    async def change_survey_settings(
        self, principal: CurrentPrincipal, data: JSONBody[SurveySettingsIn]
    ) -> dict[str, Any]:
        await services.set_min_days_between_surveys(data.min_days_between_surveys)
        await audit(
            principal.actor,
            principal.source,
            "settings.surveys",
            detail={"min_days_between_surveys": data.min_days_between_surveys},
        )
        return {"min_days_between_surveys": data.min_days_between_surveys}
