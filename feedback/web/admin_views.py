"""Admin pages: surveys with a live widget preview, schedules, widget keys and the snippet."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.kernel.environments import ENVIRONMENTS
from feedback.kernel.errors import InputError, NotFound
from feedback.kernel.principal import Role
from feedback.surveys import configuration, explain
from feedback.surveys.models import Schedule, Survey
from feedback.surveys.schedules import min_days_between_surveys
from feedback.surveys.talk_to import link_clicks
from feedback.surveys.texts import CATEGORIES, DEFAULT_TEXTS

TEXT_FIELDS = (
    "question",
    "low_label",
    "high_label",
    "promoter_link_label",
    "talk_to_label",
    "comment_placeholder",
    "submit",
    "dismiss",
)
LOCALES = ("en", "ja")
SCHEDULE_NUMBERS = (
    "cadence_days",
    "first_survey_after_days",
    "dismiss_backoff_days",
    "max_asks_per_cycle",
    "delay_seconds",
    "priority",
)
_FIELD = re.compile(r"at `\$\.([A-Za-z_]+)")

FormRequest = Request[Any, Any, State]
T = TypeVar("T")


def convert(values: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(values, kind, strict=False)
    except msgspec.ValidationError as exc:
        named = _FIELD.search(str(exc))
        raise InputError(named.group(1) if named else "form", str(exc)) from None


def survey_from_form(form: Any) -> configuration.SurveyIn:
    texts: dict[str, dict[str, Any]] = {}
    for locale in LOCALES:
        entry: dict[str, Any] = {}
        for field in TEXT_FIELDS:
            value = (form.get(f"{locale}.{field}") or "").strip()
            if value:
                entry[field] = value
        for group in ("follow_up", "thanks"):
            by_category = {c: (form.get(f"{locale}.{group}.{c}") or "").strip() for c in CATEGORIES}
            by_category = {c: v for c, v in by_category.items() if v}
            if by_category:
                entry[group] = by_category
        if entry:
            texts[locale] = entry
    return convert(
        {
            "name": (form.get("name") or "").strip(),
            "product_name": (form.get("product_name") or "").strip() or "our product",
            "promoter_link_url": (form.get("promoter_link_url") or "").strip() or None,
            "talk_to_detractors": form.get("talk_to_detractors") == "on",
            "texts": texts,
            "theme": {
                "accent": form.get("accent") or "#2f5bea",
                "position": form.get("position") or "bottom-right",
            },
            "active": form.get("active") == "on",
        },
        configuration.SurveyIn,
    )


def _utc(value: str | None) -> str | None:
    """An <input type=datetime-local> value, read as UTC."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return value  # the conversion names the field


def schedule_from_form(form: Any) -> configuration.ScheduleIn:
    raw_targeting = (form.get("targeting") or "").strip() or "{}"
    try:
        targeting = json.loads(raw_targeting)
    except json.JSONDecodeError as exc:
        raise InputError("targeting", f"not valid JSON: {exc.msg}") from None
    values: dict[str, Any] = {
        "survey_id": form.get("survey_id"),
        "name": (form.get("name") or "").strip(),
        "sample_percent": form.get("sample_percent") or "100",
        "max_users_per_account": form.get("max_users_per_account") or None,
        "targeting": targeting,
        "starts_at": _utc(form.get("starts_at")),
        "ends_at": _utc(form.get("ends_at")),
        "active": form.get("active") == "on",
        "widget_keys": _all(form, "widget_keys"),
        "environments": _all(form, "environments"),
    }
    for field in SCHEDULE_NUMBERS:
        if form.get(field):
            values[field] = form.get(field)
    return convert(values, configuration.ScheduleIn)


def _all(form: Any, name: str) -> list[str]:
    """Every value of a repeated form field (checkboxes)."""
    return [v for v in form.getall(name, []) if v]


def preview_texts() -> str:
    return json.dumps(DEFAULT_TEXTS, ensure_ascii=False)


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    guards = access(Role.admin)["guards"]

    @get("/surveys")
    async def surveys(
        self, principal: CurrentPrincipal, saved: FromQuery[str | None] = None
    ) -> Template:
        surveys = await Survey.select().order_by(Survey.id).output(load_json=True)
        return Template(
            "admin/surveys.html",
            context={
                "principal": principal,
                "surveys": surveys,
                "schedules": await _schedules_with_scope(),
                "min_gap": await min_days_between_surveys(),
                "saved": saved,
            },
        )

    @post("/settings/surveys")
    async def save_settings(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        try:
            data = convert(
                {"min_days_between_surveys": form.get("min_days_between_surveys")},
                configuration.SurveySettingsIn,
            )
            await configuration.save_survey_settings(data, principal.actor, "web")
        except InputError as exc:
            return await self._index_with_error(principal, exc)
        return Redirect(path="/admin/surveys", query_params={"saved": "settings"}, status_code=303)

    async def _index_with_error(self, principal: Any, exc: InputError) -> Template:
        surveys = await Survey.select().order_by(Survey.id).output(load_json=True)
        return Template(
            "admin/surveys.html",
            status_code=422,
            context={
                "principal": principal,
                "surveys": surveys,
                "schedules": await _schedules_with_scope(),
                "min_gap": await min_days_between_surveys(),
                "error": exc,
            },
        )

    @get(["/surveys/new", "/surveys/{survey_id:int}"])
    async def survey_page(
        self, principal: CurrentPrincipal, survey_id: FromPath[int | None] = None
    ) -> Template:
        survey: dict[str, Any] = {
            "name": "",
            "product_name": "",
            "texts": {},
            "theme": {},
            "active": True,
            "promoter_link_url": None,
            "talk_to_detractors": False,
        }
        clicks = None
        if survey_id is not None:
            row = await Survey.select().where(Survey.id == survey_id).output(load_json=True).first()
            if row is None:
                raise NotFoundException(f"no survey {survey_id}")
            survey = row
            clicks = await link_clicks(survey_id)
        return self._survey_template(principal, survey, survey_id, clicks=clicks)

    def _survey_template(
        self,
        principal: Any,
        survey: dict[str, Any],
        survey_id: int | None,
        error: InputError | None = None,
        clicks: dict[str, dict[str, int]] | None = None,
    ) -> Template:
        return Template(
            "admin/survey.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "survey": survey,
                "survey_id": survey_id,
                "error": error,
                "locales": LOCALES,
                "categories": CATEGORIES,
                "text_fields": TEXT_FIELDS,
                "defaults": DEFAULT_TEXTS,
                "preview_texts": preview_texts(),
                "link_clicks": clicks,
            },
        )

    @post(["/surveys/new", "/surveys/{survey_id:int}"])
    async def save_survey(
        self,
        principal: CurrentPrincipal,
        request: FormRequest,
        survey_id: FromPath[int | None] = None,
    ) -> Redirect | Template:
        form = await request.form()
        try:
            data = survey_from_form(form)
            saved_id = await configuration.save_survey(data, principal.actor, "web", survey_id)
        except InputError as exc:
            draft: dict[str, Any] = {
                "name": form.get("name"),
                "product_name": form.get("product_name"),
                "promoter_link_url": form.get("promoter_link_url"),
                "talk_to_detractors": form.get("talk_to_detractors") == "on",
                "active": form.get("active") == "on",
                "texts": {},
                "theme": {},
            }
            return self._survey_template(principal, draft, survey_id, exc)
        return Redirect(path=f"/admin/surveys/{saved_id}", status_code=303)

    @get(["/schedules/new", "/schedules/{schedule_id:int}"])
    async def schedule_page(
        self,
        principal: CurrentPrincipal,
        schedule_id: FromPath[int | None] = None,
        survey_id: FromQuery[int | None] = None,
    ) -> Template:
        schedule: dict[str, Any] = {
            "survey": survey_id,
            "active": True,
            "targeting": {},
            "sample_percent": 100.0,
        }
        if schedule_id is not None:
            row = (
                await Schedule.select()
                .where(Schedule.id == schedule_id)
                .output(load_json=True)
                .first()
            )
            if row is None:
                raise NotFoundException(f"no schedule {schedule_id}")
            schedule = row
        return await self._schedule_template(principal, schedule, schedule_id)

    async def _schedule_template(
        self,
        principal: Any,
        schedule: dict[str, Any],
        schedule_id: int | None,
        error: InputError | None = None,
        targeting_text: str | None = None,
    ) -> Template:
        surveys = await Survey.select(Survey.id, Survey.name).order_by(Survey.id)
        defaults = msgspec.structs.asdict(configuration.ScheduleIn(survey_id=0))
        keys = await configuration.list_widget_keys()
        shown = {**defaults, **schedule}
        chosen_keys = {int(k) for k in shown.get("widget_keys") or [] if str(k).isdigit()}
        chosen_environments = set(shown.get("environments") or [])
        return Template(
            "admin/schedule.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "schedule": shown,
                "schedule_id": schedule_id,
                "surveys": surveys,
                "keys": keys,
                "environments": ENVIRONMENTS,
                "chosen_keys": chosen_keys,
                "chosen_environments": chosen_environments,
                "scope": configuration.scope_words(
                    sorted(chosen_keys),
                    sorted(chosen_environments),
                    {k["id"]: k for k in keys},
                ),
                "error": error,
                "targeting_text": targeting_text
                if targeting_text is not None
                else json.dumps(schedule.get("targeting") or {}, indent=2),
            },
        )

    @post(["/schedules/new", "/schedules/{schedule_id:int}"])
    async def save_schedule(
        self,
        principal: CurrentPrincipal,
        request: FormRequest,
        schedule_id: FromPath[int | None] = None,
    ) -> Redirect | Template:
        form = await request.form()
        try:
            data = schedule_from_form(form)
            await configuration.save_schedule(data, principal.actor, "web", schedule_id)
        except InputError as exc:
            draft = {k: form.get(k) for k in form}
            draft["survey"] = int(form.get("survey_id") or 0)
            draft["active"] = form.get("active") == "on"
            draft["widget_keys"] = _all(form, "widget_keys")
            draft["environments"] = _all(form, "environments")
            return await self._schedule_template(
                principal, draft, schedule_id, exc, form.get("targeting") or ""
            )
        return Redirect(path="/admin/surveys", query_params={"saved": "schedule"}, status_code=303)

    @get("/schedules/explain")
    async def explain_page(
        self, principal: CurrentPrincipal, widget_key: FromQuery[str] = ""
    ) -> Template:
        """Which schedule a user would get on a page, and why: the question."""
        return await self._explain_template(principal, {"widget_key": widget_key})

    @post("/schedules/explain")
    async def explain_answer(self, principal: CurrentPrincipal, request: FormRequest) -> Template:
        """The answer, worked out by the widget's own rules; it writes nothing (a POST only
        because traits are typed one a line, which an address may not hold)."""
        form = await request.form()
        asked = {
            name: (form.get(name) or "").strip()
            for name in ("widget_key", "user_id", "account_id", "traits", "url")
        }
        try:
            if not asked["widget_key"].isdigit():
                raise InputError("widget_key", "choose the widget key the page uses")
            explanation = await explain.explain(
                int(asked["widget_key"]),
                asked["user_id"],
                asked["account_id"],
                explain.traits_from_text(asked["traits"]),
                asked["url"] or None,
            )
        except InputError as exc:
            return await self._explain_template(principal, asked, error=exc)
        return await self._explain_template(principal, asked, explanation)

    async def _explain_template(
        self,
        principal: Any,
        asked: dict[str, str],
        explanation: explain.Explanation | None = None,
        error: InputError | None = None,
    ) -> Template:
        keys = await configuration.list_widget_keys()
        if not asked.get("widget_key") and keys:
            first = next((k for k in keys if k["active"]), keys[0])
            asked = {**asked, "widget_key": str(first["id"])}
        return Template(
            "admin/explain.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "keys": keys,
                "asked": asked,
                "explanation": explanation,
                "error": error,
            },
        )

    @get("/widget-keys")
    async def widget_keys(self, principal: CurrentPrincipal) -> Template:
        return await self._keys_template(principal)

    async def _keys_template(self, principal: Any, error: InputError | None = None) -> Template:
        keys = await configuration.list_widget_keys()
        return Template(
            "admin/widget_keys.html",
            status_code=422 if error else 200,
            context={"principal": principal, "keys": keys, "error": error, "modes": IDENTITY_MODES},
        )

    @post("/widget-keys")
    async def create_key(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        """Post/Redirect/Get: the new key's page shows its identity secret once (carried in
        the encrypted session cookie for that one view, never in an address)."""
        form = await request.form()
        origins = [
            line.strip()
            for line in (form.get("allowed_origins") or "").splitlines()
            if line.strip()
        ]
        values: dict[str, Any] = {
            "name": (form.get("name") or "").strip(),
            "environment": form.get("environment") or "production",
            "allowed_origins": origins,
        }
        if form.get("identity"):
            values["identity"] = form.get("identity")
        elif form.get("require_identity") == "on":
            values["require_identity"] = True
        try:
            data = convert(values, configuration.WidgetKeyIn)
            created = await configuration.create_widget_key(data, principal.actor, "web")
        except InputError as exc:
            return await self._keys_template(principal, error=exc)
        request.set_session(
            {
                **request.session,
                NEW_KEY_FLASH: {"id": created["id"], "secret": created["identity_secret"]},
            }
        )
        return Redirect(path=f"/admin/widget-keys/{created['id']}", status_code=303)

    @get("/widget-keys/{key_id:int}")
    async def widget_key(
        self,
        principal: CurrentPrincipal,
        request: FormRequest,
        key_id: FromPath[int],
        done: FromQuery[str | None] = None,
    ) -> Template:
        secret = None
        flashed = request.session.get(NEW_KEY_FLASH) if request.session else None
        if flashed is not None:
            session = {k: v for k, v in request.session.items() if k != NEW_KEY_FLASH}
            request.set_session(session)
            if flashed.get("id") == key_id:
                secret = flashed.get("secret")
        return await self._key_template(
            principal, request, key_id, secret=secret, notice=KEY_NOTICES.get(done or "")
        )

    async def _key_template(
        self,
        principal: Any,
        request: FormRequest,
        key_id: int,
        *,
        secret: str | None = None,
        error: InputError | None = None,
        rotated: dict[str, Any] | None = None,
        preview: dict[str, Any] | None = None,
        notice: str | None = None,
        confirm_disable: bool = False,
    ) -> Template:
        try:
            key = await configuration.get_widget_key(key_id)
        except NotFound:
            raise NotFoundException(f"no widget key {key_id}") from None
        base = f"{request.url.scheme}://{request.url.netloc}"
        schedules = [s for s in await _schedules_with_scope() if configuration.takes_key(s, key)]
        return Template(
            "admin/widget_key.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "key": key,
                "secret": secret,
                "rotated": rotated,
                "preview": preview,
                "notice": notice,
                "error": error,
                "confirm_disable": confirm_disable,
                "snippet": configuration.snippet(key["key"], base, key["identity"]),
                "schedules": schedules,
                "modes": IDENTITY_MODES,
            },
        )

    @post("/widget-keys/{key_id:int}/identity")
    async def change_identity(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Template:
        form = await request.form()
        row = await configuration.get_widget_key(key_id)
        try:
            data = convert(
                {**_key_values(row), "identity": form.get("identity") or ""},
                configuration.WidgetKeyIn,
            )
            changed = await configuration.update_widget_key(key_id, data, principal.actor, "web")
        except InputError as exc:
            return await self._key_template(principal, request, key_id, error=exc)
        notice = f"{changed['key']}: identity mode is now {changed['identity']}."
        return await self._key_template(principal, request, key_id, notice=notice)

    @post("/widget-keys/{key_id:int}/rotate-secret")
    async def rotate_secret(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Template:
        rotated = await configuration.rotate_identity_secret(key_id, principal.actor, "web")
        return await self._key_template(principal, request, key_id, rotated=rotated)

    @post("/widget-keys/{key_id:int}/retire-previous-secret")
    async def retire_secret(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Template:
        row = await configuration.retire_previous_secret(key_id, principal.actor, "web")
        notice = f"{row['key']}: the previous identity secret no longer verifies."
        return await self._key_template(principal, request, key_id, notice=notice)

    @post("/widget-keys/{key_id:int}/preview")
    async def preview(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Template:
        row = await configuration.get_widget_key(key_id)
        started = await configuration.start_preview(key_id, principal.actor, "web")
        origins = [o for o in row["allowed_origins"] if o != "*"]
        example = f"{origins[0]}/?{started['query']}" if origins else None
        preview = {**started, "key": row["key"], "example": example}
        return await self._key_template(principal, request, key_id, preview=preview)

    @get("/widget-keys/{key_id:int}/disable")
    async def confirm_disable(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Template:
        """The confirmation step: disabling stops every page using the key at once."""
        return await self._key_template(principal, request, key_id, confirm_disable=True)

    @post("/widget-keys/{key_id:int}/disable")
    async def disable_key(
        self, principal: CurrentPrincipal, request: FormRequest, key_id: FromPath[int]
    ) -> Redirect:
        form = await request.form()
        if form.get("confirm") != "yes":  # not from the confirmation step: ask there
            return Redirect(path=f"/admin/widget-keys/{key_id}/disable", status_code=303)
        await configuration.set_widget_key_active(key_id, False, principal.actor, "web")
        return Redirect(
            path=f"/admin/widget-keys/{key_id}", query_params={"done": "disabled"}, status_code=303
        )

    @post("/widget-keys/{key_id:int}/enable")
    async def enable_key(self, principal: CurrentPrincipal, key_id: FromPath[int]) -> Redirect:
        await configuration.set_widget_key_active(key_id, True, principal.actor, "web")
        return Redirect(
            path=f"/admin/widget-keys/{key_id}", query_params={"done": "enabled"}, status_code=303
        )


# the session entry that carries a new key's identity secret to its page, for one view
NEW_KEY_FLASH = "new_widget_key"
KEY_NOTICES = {
    "disabled": "Key disabled: the widget's calls with it are refused. Enable it again below.",
    "enabled": "Key enabled again: pages using it show the survey as before.",
}


async def _schedules_with_scope() -> list[dict[str, Any]]:
    """Every schedule with its survey's name and its scope in words."""
    keys = {k["id"]: k for k in await configuration.list_widget_keys()}
    schedules = (
        await Schedule.select(*Schedule.all_columns(), Schedule.survey.name.as_alias("survey_name"))
        .order_by(Schedule.id)
        .output(load_json=True)
    )
    for schedule in schedules:
        schedule["scope"] = configuration.scope_words(
            schedule["widget_keys"] or [], schedule["environments"] or [], keys
        )
    return schedules


IDENTITY_MODES = (
    ("signed", "Signed identity token (recommended)"),
    ("user_hash", "User hash: the user id only (legacy)"),
    ("browser", "Trust the browser (no verification)"),
)


def _key_values(row: dict[str, Any]) -> dict[str, Any]:
    """A stored key as the form of its update."""
    return {
        "name": row["name"] or row["key"],
        "environment": row["environment"],
        "allowed_origins": row["allowed_origins"],
        "identity": row["identity"],
        "active": row["active"],
    }
