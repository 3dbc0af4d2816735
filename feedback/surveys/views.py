"""HTTP for survey delivery: the widget's endpoints and the admin API for surveys.

Widget endpoints live under /widget/v1/{key}/ so that a CORS preflight, which carries no
body, can still be checked against the key's allowed origins. The widget sends its JSON as
text/plain, a "simple" request that needs no preflight at all; application/json works too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put, route
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.auth.services import audit
from feedback.errors import error_body, internal_error_handler, status_of
from feedback.kernel.cache import forget_configuration
from feedback.kernel.errors import DomainError, InputError
from feedback.kernel.principal import Role
from feedback.observability import RESPONSES_RECEIVED, WIDGET_DECISIONS
from feedback.responses import intake
from feedback.surveys import configuration, eligibility, keys, schedules
from feedback.surveys.models import Schedule, Survey, WidgetKey

# the label children bound once (a lookup by label values costs on every call)
NOT_NOW = WIDGET_DECISIONS.labels("not_now")
SHOWN = WIDGET_DECISIONS.labels("show")
WIDGET_ANSWERS = RESPONSES_RECEIVED.labels("widget")
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


# what a widget endpoint answers: a JSON object, or a record msgspec encodes as one
WidgetBody = dict[str, Any] | msgspec.Struct


def cors_headers(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {"vary": "Origin"}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


async def widget_call(
    request: Request[Any, Any, Any],
    key: str,
    handle: Callable[[keys.KeyInfo, bytes], Awaitable[tuple[int, WidgetBody]]],
) -> Response[Any]:
    """Rate limits, key, origin, then the body: errors after the origin check carry CORS
    headers so the widget can read them."""
    await enforce_rate_limit(request, "ip", request.client.host if request.client else "-")
    info = await keys.load_key(key)
    origin = _origin(request)
    keys.require_origin(info, origin)
    headers = cors_headers(origin)
    try:
        await enforce_rate_limit(request, "key", info.key)
        status, body = await handle(info, await request.body())
    except DomainError as exc:
        return Response(
            error_body(exc.error, exc.detail),
            status_code=status_of(exc),
            headers=headers,
        )
    except HTTPException as exc:
        detail = exc.extra if isinstance(exc.extra, list) else []
        return Response(
            error_body(exc.detail, detail), status_code=exc.status_code, headers=headers
        )
    except Exception as exc:  # 503 while the database is away (500 for a bug), readable by
        # the widget: without CORS headers the browser reports a bare network error
        failed = internal_error_handler(request, exc)
        return Response(
            failed.content,
            status_code=failed.status_code,
            headers={**(failed.headers or {}), **headers},
            media_type=failed.media_type,
        )
    return Response(body, status_code=status, headers={**headers, "cache-control": "no-store"})


def _origin(request: Request[Any, Any, Any]) -> str | None:
    """The Origin header, read from the raw headers: building Litestar's header mapping
    cost more than the rest of a "not now" answer's own work."""
    for name, value in request.scope["headers"]:
        if name == b"origin":
            return value.decode("latin-1")
    return None


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
        info = await keys.load_key(key)
        origin = request.headers.get("origin")
        keys.require_origin(info, origin)
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

        async def handle(info: keys.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, CheckIn)
            if len(data.traits) > MAX_TRAITS:
                raise InputError("traits", f"at most {MAX_TRAITS} traits")
            keys.verify_identity(info, data.user_id, data.user_hash)
            outcome = await eligibility.check_eligibility(
                info, data.user_id, data.account_id, data.traits, data.url, force=data.force
            )
            if not outcome.show or outcome.display is None:
                NOT_NOW.inc()
                return 200, {"show": False, "next_check_at": iso(outcome.next_check_at)}
            SHOWN.inc()
            display = outcome.display
            return 200, {
                "show": True,
                "display_token": display.token,
                "locale": display.locale,
                "texts": display.texts,
                "theme": display.theme,
                "promoter_link_url": display.promoter_link_url,
                "delay_seconds": display.delay_seconds,
                "next_check_at": iso(outcome.next_check_at),
            }

        return await widget_call(request, key, handle)

    @post("/responses", summary="Record a score (idempotent by client_id)", status_code=201)
    async def responses(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. 201 the first time, 200 for a retry."""

        async def handle(info: keys.KeyInfo, body: bytes) -> tuple[int, WidgetBody]:
            data = decode(body, ScoreIn)
            created, follow_up = await intake.record_score(
                info, data.display_token, data.client_id, data.score
            )
            if created:
                WIDGET_ANSWERS.inc()
            return (201 if created else 200), follow_up

        return await widget_call(request, key, handle)

    @post("/comments", summary="Add the comment to a recorded score", status_code=200)
    async def comments(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. Repeating it replaces the comment."""

        async def handle(info: keys.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, CommentIn)
            await intake.record_comment(info, data.display_token, data.comment)
            return 200, {"ok": True}

        return await widget_call(request, key, handle)

    @post("/dismissals", summary="The user closed the survey", status_code=200)
    async def dismissals(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[Any]:
        """Public, with a widget key."""

        async def handle(info: keys.KeyInfo, body: bytes) -> tuple[int, dict[str, Any]]:
            data = decode(body, DismissIn)
            return 200, {"dismissed": await intake.dismiss(info, data.display_token)}

        return await widget_call(request, key, handle)


# -- admin API ---------------------------------------------------------------------------


class SurveyAdminController(Controller):
    path = "/api/v1"
    tags = ["surveys"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/surveys", summary="Surveys", **access(Role.admin, Role.manager, Role.analyst))
    async def list_surveys(self) -> list[dict[str, Any]]:
        return await Survey.select().order_by(Survey.id).output(load_json=True)

    @post("/surveys", summary="Create a survey", **access(Role.admin))
    async def create_survey(
        self, principal: CurrentPrincipal, data: JSONBody[configuration.SurveyIn]
    ) -> dict[str, Any]:
        survey_id = await configuration.save_survey(data, principal.actor, principal.source)
        return {"id": survey_id, **msgspec.structs.asdict(data)}

    @put("/surveys/{survey_id:int}", summary="Change a survey", **access(Role.admin))
    async def update_survey(
        self,
        principal: CurrentPrincipal,
        survey_id: FromPath[int],
        data: JSONBody[configuration.SurveyIn],
    ) -> dict[str, Any]:
        await configuration.save_survey(data, principal.actor, principal.source, survey_id)
        return {"id": survey_id, **msgspec.structs.asdict(data)}

    @get("/schedules", summary="Schedules", **access(Role.admin, Role.manager, Role.analyst))
    async def list_schedules(self) -> list[dict[str, Any]]:
        return await Schedule.select().order_by(Schedule.id).output(load_json=True)

    @post("/schedules", summary="Create a schedule", **access(Role.admin))
    async def create_schedule(
        self, principal: CurrentPrincipal, data: JSONBody[configuration.ScheduleIn]
    ) -> dict[str, Any]:
        schedule_id = await configuration.save_schedule(data, principal.actor, principal.source)
        return {"id": schedule_id, **msgspec.structs.asdict(data)}

    @put("/schedules/{schedule_id:int}", summary="Change a schedule", **access(Role.admin))
    async def update_schedule(
        self,
        principal: CurrentPrincipal,
        schedule_id: FromPath[int],
        data: JSONBody[configuration.ScheduleIn],
    ) -> dict[str, Any]:
        await configuration.save_schedule(data, principal.actor, principal.source, schedule_id)
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
        self, principal: CurrentPrincipal, data: JSONBody[configuration.WidgetKeyIn]
    ) -> dict[str, Any]:
        return await configuration.create_widget_key(data, principal.actor, principal.source)

    @put(
        "/widget-keys/{key_id:int}",
        summary="Change a widget key's origins or state",
        **access(Role.admin),
    )
    async def update_key(
        self,
        principal: CurrentPrincipal,
        key_id: FromPath[int],
        data: JSONBody[configuration.WidgetKeyIn],
    ) -> dict[str, Any]:
        return await configuration.update_widget_key(
            key_id, data, principal.actor, principal.source
        )

    @delete("/widget-keys/{key_id:int}", summary="Disable a widget key", **access(Role.admin))
    async def disable_key(self, principal: CurrentPrincipal, key_id: FromPath[int]) -> None:
        await configuration.get_widget_key(key_id)
        await WidgetKey.update({WidgetKey.active: False}).where(WidgetKey.id == key_id)
        forget_configuration()
        await audit(principal.actor, principal.source, "widget_key.disable", str(key_id))

    @get(
        "/settings/surveys",
        summary="Global survey settings",
        **access(Role.admin, Role.manager, Role.analyst),
    )
    async def survey_settings(self) -> dict[str, Any]:
        return {"min_days_between_surveys": await schedules.min_days_between_surveys()}

    @put("/settings/surveys", summary="Change global survey settings", **access(Role.admin))
    async def change_survey_settings(
        self, principal: CurrentPrincipal, data: JSONBody[configuration.SurveySettingsIn]
    ) -> dict[str, Any]:
        await configuration.save_survey_settings(data, principal.actor, principal.source)
        return {"min_days_between_surveys": data.min_days_between_surveys}
