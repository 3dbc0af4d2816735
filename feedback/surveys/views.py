"""HTTP for survey delivery: the widget's endpoints and the admin API for surveys.

Widget endpoints live under /widget/v1/{key}/ so that a CORS preflight, which carries no
body, can still be checked against the key's allowed origins. The widget sends its JSON as
text/plain, a "simple" request that needs no preflight at all; application/json works too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put, route
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.errors import error_body, http_error, internal_error_handler, status_of
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import DomainError, InputError, NotFound
from feedback.kernel.principal import Role
from feedback.observability import RESPONSES_RECEIVED, WIDGET_DECISIONS
from feedback.ratelimit import client_address, client_bucket
from feedback.responses import intake
from feedback.surveys import (
    configuration,
    eligibility,
    explain,
    keys,
    previews,
    schedules,
    widget_openapi,
)
from feedback.surveys.models import IdentityMode, Schedule, Survey
from feedback.surveys.talk_to import count_click, link_clicks, talk_to_for
from feedback.surveys.verification import MAX_TRAITS, Identity, TraitValue, verify

# the label children bound once (a lookup by label values costs on every call)
NOT_NOW = WIDGET_DECISIONS.labels("not_now")
SHOWN = WIDGET_DECISIONS.labels("show")
WIDGET_ANSWERS = RESPONSES_RECEIVED.labels("widget")
WIDGET_BODY_LIMIT = 64 * 1024
T = TypeVar("T")
P = TypeVar("P")

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class CheckIn(msgspec.Struct):
    """The eligibility body (docs/widget.md): the ids may be left to an identity token."""

    user_id: Text200 | None = None
    account_id: Text200 | None = None
    traits: dict[str, TraitValue] = {}
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    identity_token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    user_hash: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    force: bool = False
    preview_token: Annotated[str, msgspec.Meta(max_length=2048)] | None = None


class ScoreIn(msgspec.Struct):
    display_token: Token
    client_id: Annotated[str, msgspec.Meta(min_length=8, max_length=100)]
    score: Annotated[int, msgspec.Meta(ge=0, le=10)]


class CommentIn(msgspec.Struct):
    display_token: Token
    comment: Annotated[str, msgspec.Meta(max_length=5000)]


class DismissIn(msgspec.Struct):
    display_token: Token


class ClickIn(msgspec.Struct):
    display_token: Token
    link: Literal["talk_to"]


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
    parse: Callable[[keys.KeyInfo, bytes], P],
    act: Callable[[keys.KeyInfo, P], Awaitable[tuple[int, WidgetBody]]],
) -> Response[Any]:
    """Rate limit per client, key, origin, the body (`parse`), the limit per key, then the
    work (`act`): only calls that parse count against the key's limit, so junk cannot use it
    up for real users. Errors after the origin check carry CORS headers so the widget can
    read them."""
    settings = request.app.state["settings"]
    client = client_bucket(client_address(request.scope, settings.trusted_proxies))
    await enforce_rate_limit(request, "ip", client)
    info = await keys.load_key(key)
    origin = _origin(request)
    keys.require_origin(info, origin)
    headers = cors_headers(origin)
    try:
        parsed = parse(info, await request.body())
        await enforce_rate_limit(request, "key", info.key)
        status, body = await act(info, parsed)
    except DomainError as exc:
        return Response(
            error_body(exc.error, exc.detail),
            status_code=status_of(exc),
            headers=headers,
        )
    except HTTPException as exc:  # e.g. a body over the widget's limit: 413 saying the limit
        error, detail = http_error(request, exc)
        return Response(error_body(error, detail), status_code=exc.status_code, headers=headers)
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


def decoder(kind: type[T]) -> Callable[[keys.KeyInfo, bytes], T]:
    """A `parse` step that only decodes the body as `kind`."""
    return lambda _info, body: decode(body, kind)


class Check(msgspec.Struct, frozen=True):
    """An eligibility call once its identity is verified."""

    identity: Identity
    url: str | None
    force: bool  # honoured: a preview, or a signed identity on a non-production key


def parse_check(info: keys.KeyInfo, body: bytes) -> Check:
    data = decode(body, CheckIn)
    if len(data.traits) > MAX_TRAITS:
        raise InputError("traits", f"at most {MAX_TRAITS} traits")
    identity = verify(
        info,
        utcnow(),
        user_id=data.user_id,
        account_id=data.account_id,
        traits=data.traits,
        identity_token=data.identity_token,
        user_hash=data.user_hash,
    )
    force = data.force and (
        previews.is_preview_of(data.preview_token, info.key)
        or (identity.trust is IdentityMode.signed and info.environment != "production")
    )
    return Check(identity, data.url, force)


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
        ["/eligibility", "/responses", "/comments", "/dismissals", "/clicks"],
        http_method=[HttpMethod.OPTIONS],
        include_in_schema=False,
    )
    async def preflight(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[None]:
        info = await keys.load_key(key)
        origin = _origin(request)
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

    @post(
        "/eligibility",
        summary="Should this user see a survey now?",
        status_code=200,
        operation_class=widget_openapi.with_body(CheckIn, "Who is asking, and where"),
        responses=widget_openapi.widget_responses(
            200, widget_openapi.EligibilityAnswer, "A survey to show now, or when to ask again"
        ),
    )
    async def eligibility(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[Any]:
        """Public, with a widget key from an allowed origin. Body: `user_id`, `account_id`,
        `traits` (role, plan, locale, email, account_name, and any custom ones), `url`,
        `identity_token` (an HS256 token your server makes with the key's identity secret,
        signing `sub`, `account`, `traits` and `exp`; required by keys in `signed` mode),
        the legacy `user_hash`, and `force` with a `preview_token` for previews.
        Answers a survey to show with its display token, or `show: false` with the time of
        the next useful check."""

        async def act(info: keys.KeyInfo, check: Check) -> tuple[int, dict[str, Any]]:
            who = check.identity
            outcome = await eligibility.check_eligibility(
                info,
                who.user_id,
                who.account_id,
                who.traits,
                check.url,
                force=check.force,
                trust=who.trust,
            )
            if not outcome.show or outcome.display is None:
                NOT_NOW.inc()
                return 200, {"show": False, "next_check_at": iso(outcome.next_check_at)}
            SHOWN.inc()
            display = outcome.display
            talk_to = await talk_to_for(display.account) if display.talk_to_detractors else None
            return 200, {
                "show": True,
                "display_token": display.token,
                "locale": display.locale,
                "texts": display.texts,
                "theme": display.theme,
                "promoter_link_url": display.promoter_link_url,
                "delay_seconds": display.delay_seconds,
                "next_check_at": iso(outcome.next_check_at),
                "talk_to": None if talk_to is None else msgspec.structs.asdict(talk_to),
            }

        return await widget_call(request, key, parse_check, act)

    @post(
        "/responses",
        summary="Record a score (idempotent by client_id)",
        status_code=201,
        operation_class=widget_openapi.with_body(ScoreIn, "The score the user chose"),
        responses={
            **widget_openapi.widget_responses(
                201, intake.FollowUp, "Recorded; what to show next (the follow-up question)"
            ),
            200: ResponseSpec(intake.FollowUp, description="A retry, or a changed score: recorded"),
        },
    )
    async def responses(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. 201 the first time, 200 for a retry or for the same
        client_id changing its score within the follow-up window (the last score stands); 409
        naming display_token after that window."""

        async def act(info: keys.KeyInfo, data: ScoreIn) -> tuple[int, WidgetBody]:
            created, follow_up = await intake.record_score(
                info, data.display_token, data.client_id, data.score
            )
            if created:
                WIDGET_ANSWERS.inc()
            return (201 if created else 200), follow_up

        return await widget_call(request, key, decoder(ScoreIn), act)

    @post(
        "/comments",
        summary="Add the comment to a recorded score",
        status_code=200,
        operation_class=widget_openapi.with_body(CommentIn, "The comment"),
        responses=widget_openapi.widget_responses(
            200, widget_openapi.CommentAnswer, "The comment is stored"
        ),
    )
    async def comments(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. Taken within the follow-up window
        (FEEDBACK_WIDGET_FOLLOWUP_HOURS) of the display, once; repeating it replaces the comment
        only within FEEDBACK_WIDGET_COMMENT_EDIT_MINUTES of the first (else 409 naming comment)."""

        async def act(info: keys.KeyInfo, data: CommentIn) -> tuple[int, dict[str, Any]]:
            await intake.record_comment(info, data.display_token, data.comment)
            return 200, {"ok": True}

        return await widget_call(request, key, decoder(CommentIn), act)

    @post(
        "/dismissals",
        summary="The user closed the survey",
        status_code=200,
        operation_class=widget_openapi.with_body(DismissIn, "Which display was closed"),
        responses=widget_openapi.widget_responses(
            200, widget_openapi.DismissalAnswer, "The dismissal is noted"
        ),
    )
    async def dismissals(
        self, request: Request[Any, Any, Any], key: FromPath[str]
    ) -> Response[Any]:
        """Public, with a widget key. Taken within the follow-up window of the display (else 409
        naming display_token)."""

        async def act(info: keys.KeyInfo, data: DismissIn) -> tuple[int, dict[str, Any]]:
            return 200, {"dismissed": await intake.dismiss(info, data.display_token)}

        return await widget_call(request, key, decoder(DismissIn), act)

    @post(
        "/clicks",
        summary="A thank-you link was followed (counted once per display)",
        status_code=200,
        operation_class=widget_openapi.with_body(ClickIn, "Which display's link"),
        responses=widget_openapi.widget_responses(
            200, widget_openapi.ClickAnswer, "The click is counted"
        ),
    )
    async def clicks(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
        """Public, with a widget key. Counts that an answered display's "Talk to ..." link
        was followed, per survey and the answer's category; a repeat counts once. No
        cookie, nothing about the person beyond the display."""

        async def act(info: keys.KeyInfo, data: ClickIn) -> tuple[int, dict[str, Any]]:
            return 200, {"counted": await count_click(info, data.display_token, data.link)}

        return await widget_call(request, key, decoder(ClickIn), act)


# -- admin API ---------------------------------------------------------------------------


class ExplainIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who is asking, where, through which key: as the widget would send it."""

    widget_key_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    user_id: Text200
    account_id: Text200
    traits: dict[str, TraitValue] = {}
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


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

    @get(
        "/surveys/{survey_id:int}/link-clicks",
        summary="How often the survey's thank-you links were followed, per category",
        **access(Role.admin, Role.manager, Role.analyst),
    )
    async def survey_link_clicks(self, survey_id: FromPath[int]) -> dict[str, Any]:
        """`{"talk_to": {"promoter": 0, "passive": 0, "detractor": 12}}`: answered displays
        whose link was followed, each counted once."""
        if not await Survey.exists().where(Survey.id == survey_id):
            raise NotFound.for_field("survey_id", f"no survey {survey_id}")
        return await link_clicks(survey_id)

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
        return await configuration.list_widget_keys()

    @post(
        "/widget-keys",
        summary="Create a widget key; its identity secret is shown once",
        **access(Role.admin),
    )
    async def create_key(
        self, principal: CurrentPrincipal, data: JSONBody[configuration.WidgetKeyIn]
    ) -> dict[str, Any]:
        """`identity` says what widget calls must prove: `signed` (an identity token; the
        default for production keys), `user_hash` (the user id only) or `browser` (nothing;
        the default for staging and development). A production key that trusts the browser
        is answered with a `warning`."""
        return await configuration.create_widget_key(data, principal.actor, principal.source)

    @put(
        "/widget-keys/{key_id:int}",
        summary="Change a widget key's origins, identity mode or state",
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

    @post(
        "/widget-keys/{key_id:int}/rotate-secret",
        summary="A new identity secret, shown once; the old one verifies until retired",
        **access(Role.admin),
    )
    async def rotate_secret(
        self,
        principal: CurrentPrincipal,
        key_id: FromPath[int],
        keep_previous_hours: FromQuery[int] = configuration.DEFAULT_ROTATION_HOURS,
    ) -> dict[str, Any]:
        return await configuration.rotate_identity_secret(
            key_id, principal.actor, principal.source, keep_previous_hours
        )

    @post(
        "/widget-keys/{key_id:int}/retire-previous-secret",
        summary="The previous identity secret stops verifying now",
        **access(Role.admin),
    )
    async def retire_secret(
        self, principal: CurrentPrincipal, key_id: FromPath[int]
    ) -> dict[str, Any]:
        return await configuration.retire_previous_secret(key_id, principal.actor, principal.source)

    @post(
        "/widget-keys/{key_id:int}/preview-token",
        summary="A preview token: ?nps_preview=<token> on a host page shows the survey there",
        **access(Role.admin),
    )
    async def preview_token(
        self, principal: CurrentPrincipal, key_id: FromPath[int]
    ) -> dict[str, Any]:
        return await configuration.start_preview(key_id, principal.actor, principal.source)

    @delete("/widget-keys/{key_id:int}", summary="Disable a widget key", **access(Role.admin))
    async def disable_key(self, principal: CurrentPrincipal, key_id: FromPath[int]) -> None:
        """The widget's calls with the key are refused from now on; `POST .../enable` undoes
        it."""
        await configuration.set_widget_key_active(key_id, False, principal.actor, principal.source)

    @post(
        "/widget-keys/{key_id:int}/enable",
        summary="Enable a disabled widget key again",
        status_code=200,
        **access(Role.admin),
    )
    async def enable_key(
        self, principal: CurrentPrincipal, key_id: FromPath[int]
    ) -> dict[str, Any]:
        """The key works again as it did before it was disabled (same key, origins, identity
        mode and secret)."""
        return await configuration.set_widget_key_active(
            key_id, True, principal.actor, principal.source
        )

    @post(
        "/eligibility/explain",
        summary="Which schedule would a user get on a page, and why (writes nothing)",
        status_code=200,
        **access(Role.admin),
    )
    async def explain_eligibility(self, data: JSONBody[ExplainIn]) -> explain.Explanation:
        """For a widget key (`widget_key_id`), `user_id`, `account_id`, `traits` and `url`:
        each active schedule's verdict (the key's scope, targeting with the rule that failed,
        the cadence rules' decision and reason, the next check time), the schedule the widget
        would show and when it would check again. Reads only: no display is reserved, no user
        created, nothing changed; an unknown user is explained as new, first seen now."""
        return await explain.explain(
            data.widget_key_id, data.user_id, data.account_id, data.traits, data.url
        )

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
