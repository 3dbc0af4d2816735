"""Programs that email customers (issue 18): the admin pages (managers may read). The list
with on/off and counts, a program's page with its numbers and participants, the editor (the
steps as a JSON text area checked on save), each email's preview for a sample participant
and a test send to yourself, and enrolling by hand."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from feedback.auth.guards import CurrentPrincipal, access
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.programs.definitions import AUDIENCE, EXITS, LOCALES, TRIGGERS
from feedback.programs.services import (
    create_program,
    definition_data_of,
    enrol_by_hand,
    get_program,
    list_programs,
    participant_counts,
    participants_of,
    preview_email,
    program_numbers,
    remove_program,
    set_enabled,
    test_send,
    update_program,
)
from feedback.programs.stored import StoredProgram
from feedback.programs.views import staff_address
from feedback.web.report_views import StaffPages

FormRequest = Request[Any, Any, State]
READ = (Role.admin, Role.manager)
ENROL = (Role.admin, Role.manager, Role.csm)
PARTICIPANTS_SHOWN = 100
# what the program pages may say after an action (`?done=`); anything else shows nothing
NOTICES = {
    "created": "Program created. It is switched off until you switch it on.",
    "saved": "Saved. People already enrolled go on with the steps they have not done yet.",
    "enabled": "Switched on: the worker enrols people and sends its mails from now on.",
    "disabled": "Switched off: nobody new is enrolled, and participants wait where they are.",
    "deleted": "Program deleted.",
    "archived": "Program archived: people had been enrolled, so its history is kept.",
    "enrolled": "Enrolled. The first step runs at the worker's next round.",
    "test_sent": "Test mail queued to your address: see it on the mail outbox page.",
}
EXIT_REASONS = {**EXITS, "unknown": "Other"}
STATE_TAGS = {"active": "info", "completed": "good", "exited": "warn"}


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _values(text: str) -> list[str]:
    return [v.strip() for v in text.replace(";", ",").split(",") if v.strip()]


def local_path(value: Any, fallback: str) -> str:
    """`next` when it is a path on this site, else the fallback (no open redirect)."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text or "\n" in text:
        return fallback
    return text


def with_notice(path: str, outcome: str) -> str:
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"]
    query.append(("done", outcome))
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


def _done(path: str, outcome: str) -> Redirect:
    return Redirect(path=path, query_params={"done": outcome}, status_code=303)


def definition_from_form(form: Any) -> dict[str, Any]:
    """The editor's fields as the API's JSON definition; the steps text area must hold a
    JSON list (a parse error names its line and column)."""
    try:
        steps = json.loads(_text(form, "steps") or "[]")
    except json.JSONDecodeError as exc:
        raise InputError(
            "steps", f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    kind = _text(form, "trigger_kind")
    params: dict[str, Any] = {}
    if kind == "renewal_in_days":
        days = _text(form, "trigger_days")
        try:
            params["days"] = int(days)
        except ValueError:
            raise InputError("trigger.params.days", "a whole number of days") from None
    audience = {key: _values(_text(form, f"audience_{key}")) for key in AUDIENCE}
    return {
        "name": _text(form, "name"),
        "description": _text(form, "description"),
        "trigger": {"kind": kind, "params": params},
        "audience": {key: values for key, values in audience.items() if values},
        "steps": steps,
        "exit_conditions": [key for key in EXITS if form.get(f"exit_{key}") == "on"],
        "locale_default": _text(form, "locale_default") or "en",
    }


def _draft(program: StoredProgram | None) -> dict[str, Any]:
    """What the editor's fields show: a program's definition, or a new program's."""
    if program is None:
        return {
            "name": "",
            "description": "",
            "trigger_kind": "detractor_answer",
            "trigger_days": "60",
            "audience": {},
            "exits": ["unsubscribed", "churned"],
            "locale_default": "en",
            "steps": json.dumps(NEW_STEPS, indent=2, ensure_ascii=False),
        }
    data = definition_data_of(program)
    return {
        "name": data["name"],
        "description": data["description"],
        "trigger_kind": data["trigger"]["kind"],
        "trigger_days": str(data["trigger"]["params"].get("days", "60")),
        "audience": {key: ", ".join(values) for key, values in data["audience"].items()},
        "exits": data["exit_conditions"],
        "locale_default": data["locale_default"],
        "steps": json.dumps(data["steps"], indent=2, ensure_ascii=False),
    }


def _draft_from_form(form: Any) -> dict[str, Any]:
    return {
        "name": _text(form, "name"),
        "description": _text(form, "description"),
        "trigger_kind": _text(form, "trigger_kind"),
        "trigger_days": _text(form, "trigger_days"),
        "audience": {key: _text(form, f"audience_{key}") for key in AUDIENCE},
        "exits": [key for key in EXITS if form.get(f"exit_{key}") == "on"],
        "locale_default": _text(form, "locale_default"),
        "steps": form.get("steps") if isinstance(form.get("steps"), str) else "",
    }


NEW_STEPS: list[dict[str, Any]] = [
    {
        "kind": "email",
        "templates": {
            "en": {
                "subject": "A note from {{ owner.name }}",
                "text": "Hi {{ person.name or 'there' }},\n\n...\n\n{{ owner.name }}\n\n"
                "Unsubscribe: {{ unsubscribe_url }}",
                "html": "<p>Hi {{ person.name or 'there' }},</p>\n<p>...</p>\n"
                '<p>{{ owner.name }}</p>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
            }
        },
    },
    {"kind": "wait", "days": 3},
    {"kind": "cta", "type": "risk", "reason": "Follow up with {{ account.name }}", "priority": 3},
]


def _steps_error(error: DomainError | None) -> dict[str, str] | None:
    """An error about a step, shown next to the steps text area with its full field name."""
    field = getattr(error, "field", None) if error else None
    if error is None or not field or not field.startswith("steps"):
        return None
    message = error.message if field == "steps" else f"{field}: {error.message}"
    return {"field": "steps", "message": message}


class ProgramPages(StaffPages):
    path = "/programs"

    # ------------------------------------------------------------------------ the list

    @get("/", **access(*READ))
    async def index(
        self,
        principal: CurrentPrincipal,
        done: FromQuery[str | None] = None,
        archived: FromQuery[bool] = False,
    ) -> Template:
        programs = await list_programs(include_archived=archived)
        return Template(
            "programs/index.html",
            context={
                "principal": principal,
                "programs": programs,
                "counts": await participant_counts(),
                "triggers": TRIGGERS,
                "archived": archived,
                "can_edit": principal.role is Role.admin,
                "notice": NOTICES.get(done or ""),
            },
        )

    # ---------------------------------------------------------------------- the editor

    @get("/new", **access(Role.admin))
    async def new(self, principal: CurrentPrincipal) -> Template:
        return self._editor(principal, None, _draft(None))

    def _editor(
        self,
        principal: Principal,
        program: StoredProgram | None,
        draft: dict[str, Any],
        error: DomainError | None = None,
    ) -> Template:
        return Template(
            "programs/edit.html",
            status_code=(409 if isinstance(error, Conflict) else 422) if error else 200,
            context={
                "principal": principal,
                "program": program,
                "draft": draft,
                "triggers": TRIGGERS,
                "audience_fields": AUDIENCE,
                "exits": EXITS,
                "locales": LOCALES,
                "error": error,
                "steps_error": _steps_error(error),
            },
        )

    @post("/", **access(Role.admin))
    async def create(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        try:
            program = await create_program(definition_from_form(form), utcnow())
        except DomainError as exc:
            return self._editor(principal, None, _draft_from_form(form), exc)
        return _done(f"/programs/{program.id}", "created")

    @get("/{program_id:int}/edit", **access(Role.admin))
    async def edit(self, principal: CurrentPrincipal, program_id: FromPath[int]) -> Template:
        program = await get_program(program_id)
        return self._editor(principal, program, _draft(program))

    @post("/{program_id:int}", **access(Role.admin))
    async def save(
        self, principal: CurrentPrincipal, program_id: FromPath[int], request: FormRequest
    ) -> Redirect | Template:
        program = await get_program(program_id)
        form = await request.form()
        try:
            await update_program(program_id, definition_from_form(form), utcnow())
        except DomainError as exc:
            return self._editor(principal, program, _draft_from_form(form), exc)
        return _done(f"/programs/{program_id}", "saved")

    # ------------------------------------------------------------------ a program's page

    @get("/{program_id:int}", **access(*READ))
    async def detail(
        self,
        principal: CurrentPrincipal,
        program_id: FromPath[int],
        done: FromQuery[str | None] = None,
        state_: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> Template:
        return await self._detail(principal, program_id, NOTICES.get(done or ""), state=state_)

    async def _detail(
        self,
        principal: Principal,
        program_id: int,
        notice: str | None = None,
        error: DomainError | None = None,
        state: str | None = None,
    ) -> Template:
        program = await get_program(program_id)
        shown_state = state if state in ("active", "completed", "exited") else None
        return Template(
            "programs/detail.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "program": program,
                "definition": program.definition,
                "numbers": await program_numbers(program),
                "participants": await participants_of(program_id, shown_state, PARTICIPANTS_SHOWN),
                "state": shown_state or "",
                "shown": PARTICIPANTS_SHOWN,
                "triggers": TRIGGERS,
                "exits": EXITS,
                "exit_reasons": EXIT_REASONS,
                "state_tags": STATE_TAGS,
                "can_edit": principal.role is Role.admin,
                "can_enrol": principal.role in ENROL and not program.archived,
                "notice": notice,
                "error": error,
            },
        )

    @post("/{program_id:int}/enable", **access(Role.admin))
    async def enable(self, principal: CurrentPrincipal, program_id: FromPath[int]) -> Response[Any]:
        try:
            await set_enabled(program_id, True, utcnow())
        except DomainError as exc:
            return await self._detail(principal, program_id, error=exc)
        return _done(f"/programs/{program_id}", "enabled")

    @post("/{program_id:int}/disable", **access(Role.admin))
    async def disable(self, program_id: FromPath[int]) -> Redirect:
        await set_enabled(program_id, False, utcnow())
        return _done(f"/programs/{program_id}", "disabled")

    @post("/{program_id:int}/delete", **access(Role.admin))
    async def delete(self, program_id: FromPath[int]) -> Redirect:
        result = await remove_program(program_id, utcnow())
        return Redirect(path="/programs", query_params={"done": result}, status_code=303)

    @post("/{program_id:int}/enroll", **access(*ENROL))
    async def enroll(
        self, principal: CurrentPrincipal, program_id: FromPath[int], request: FormRequest
    ) -> Response[Any]:
        """Enrol by hand from a form here, on a CTA's or an account's page: back to the
        local `next` path with a notice."""
        form = await request.form()
        back = local_path(form.get("next"), f"/programs/{program_id}")
        cta = _text(form, "cta_id")
        try:
            if cta and not cta.isdigit():
                raise InputError("cta_id", "a CTA number")
            await enrol_by_hand(
                program_id,
                _text(form, "account_external_id"),
                _text(form, "user_external_id") or None,
                int(cta) if cta else None,
                principal.actor,
                utcnow(),
                can_see_csm=principal.can_see_csm,
            )
        except DomainError as exc:
            if principal.role is Role.csm:
                raise  # a CSM may not read the program's page: the error page says why
            return await self._detail(principal, program_id, error=exc)
        return Redirect(path=with_notice(back, "enrolled"), status_code=303)

    # -------------------------------------------------------- previews and test sends

    @get("/{program_id:int}/steps/{step:int}/preview", **access(*READ))
    async def preview(
        self,
        principal: CurrentPrincipal,
        program_id: FromPath[int],
        step: FromPath[int],
        locale: FromQuery[str] = "en",
        done: FromQuery[str | None] = None,
    ) -> Template:
        return await self._preview(principal, program_id, step, locale, NOTICES.get(done or ""))

    async def _preview(
        self,
        principal: Principal,
        program_id: int,
        step: int,
        locale: str,
        notice: str | None = None,
        error: DomainError | None = None,
    ) -> Template:
        program = await get_program(program_id)
        email = await preview_email(program_id, step - 1, locale if locale in LOCALES else "en")
        return Template(
            "programs/preview.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "program": program,
                "step": step,
                "email": email,
                "locale": email.locale,
                "asked_locale": locale,
                "locales": LOCALES,
                "can_send": principal.role is Role.admin,
                "notice": notice,
                "error": error,
            },
        )

    @post("/{program_id:int}/steps/{step:int}/test-send", **access(Role.admin))
    async def send_test(
        self,
        principal: CurrentPrincipal,
        program_id: FromPath[int],
        step: FromPath[int],
        request: FormRequest,
    ) -> Response[Any]:
        form = await request.form()
        locale = _text(form, "locale") or "en"
        try:
            address, name = await staff_address(principal)
            await test_send(program_id, step - 1, locale, address, name, utcnow())
        except DomainError as exc:
            return await self._preview(principal, program_id, step, locale, error=exc)
        return Redirect(
            path=f"/programs/{program_id}/steps/{step}/preview",
            query_params={"locale": locale, "done": "test_sent"},
            status_code=303,
        )
