"""Pools of specialists (issue 18): the admin pages (pools, a pool's members and settings,
the CSV import), the pool report for admins and managers, and the Claim action that the
Today page and the CTA pages post to."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.accounts.models import CSM, CsmKind
from feedback.auth.guards import CurrentPrincipal, access
from feedback.kernel.errors import DomainError, Forbidden, InputError
from feedback.kernel.principal import Principal, Role
from feedback.pools import services
from feedback.pools.claims import claim_cta
from feedback.pools.imports import COLUMNS, import_pools
from feedback.pools.reports import pool_report, report_csv
from feedback.pools.services import RULES
from feedback.pools.views import day_end, day_start
from feedback.web.report_views import StaffPages

FormRequest = Request[Any, Any, State]
READ = (Role.admin, Role.manager)
CLAIM = (Role.admin, Role.manager, Role.csm)
RULE_LABELS = {
    "round_robin": "Round robin: members in turn",
    "fewest_open": "Fewest open CTAs",
    "least_arr": "Least ARR in open CTAs",
}
assert set(RULE_LABELS) == set(RULES)
# what the pool pages may say after an action (`?done=`); anything else shows nothing
NOTICES = {
    "created": "Pool created.",
    "saved": "Saved.",
    "added": "Member added.",
    "removed": "Member taken out.",
    "profile": "The specialist's settings are saved.",
    "imported": "Import done: every row was valid and is written.",
}
AUDIENCE_SHOWN = ("plan", "company_size", "industry", "status")


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int_field(form: Any, name: str) -> int | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(name, "a whole number") from None


def _list(text: str) -> list[str]:
    return [v.strip() for v in text.replace(";", ",").split(",") if v.strip()]


def settings_from_form(form: Any) -> dict[str, Any]:
    """The pool's settings as a form posts them (empty fields leave a setting as it is,
    except the channel, the meeting link and the audience, which may be cleared)."""
    changes: dict[str, Any] = {
        "name": _text(form, "name"),
        "slack_channel": _text(form, "slack_channel"),
        "rule": _text(form, "rule"),
        "manager_email": _text(form, "manager_email"),
        "meeting_url": _text(form, "meeting_url"),
        "timezone": _text(form, "timezone") or "UTC",
        "active": form.get("active") == "on",
    }
    for name in ("claim_sla_minutes", "escalate_sla_minutes"):
        value = _int_field(form, name)
        if value is not None:
            changes[name] = value
    for name in ("workday_start_hour", "workday_end_hour"):
        value = _int_field(form, name)
        if value is not None:
            changes[name] = value
    audience: dict[str, Any] = {}
    for name in AUDIENCE_SHOWN:
        values = _list(_text(form, f"audience_{name}"))
        if values:
            audience[name] = values
    changes["audience"] = audience
    return {k: v for k, v in changes.items() if v != "" or k in ("slack_channel", "meeting_url")}


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


def audience_text(audience: dict[str, Any]) -> str:
    if not audience:
        return "Every account without a dedicated CSM"
    parts = []
    for key, values in audience.items():
        if key == "traits":
            parts += [f"{name}: {', '.join(v)}" for name, v in values.items()]
        else:
            parts.append(f"{key.replace('_', ' ')}: {', '.join(values)}")
    return "; ".join(parts)


async def _csms() -> list[dict[str, Any]]:
    return (
        await CSM.select(CSM.id, CSM.name, CSM.email, CSM.kind)
        .where(CSM.active == True)  # noqa: E712
        .order_by(CSM.name)
    )


class PoolPages(StaffPages):
    path = "/pools"

    # ---------------------------------------------------------------- the list of pools

    @get("/", **access(*READ))
    async def index(
        self, principal: CurrentPrincipal, done: FromQuery[str | None] = None
    ) -> Template:
        return await self._index(principal, NOTICES.get(done or ""))

    async def _index(
        self,
        principal: Principal,
        notice: str | None = None,
        error: DomainError | None = None,
        draft: dict[str, str] | None = None,
        import_errors: list[Any] | None = None,
    ) -> Template:
        return Template(
            "pools/index.html",
            status_code=422 if error or import_errors else 200,
            context={
                "principal": principal,
                "pools": await services.list_pools(),
                "rules": RULE_LABELS,
                "csms": await _csms(),
                "audience_text": audience_text,
                "import_columns": COLUMNS,
                "import_errors": import_errors or [],
                "can_edit": principal.role is Role.admin,
                "notice": notice,
                "error": error,
                "draft": draft or {},
            },
        )

    @post("/", **access(Role.admin))
    async def create(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        try:
            changes = settings_from_form(form)
            changes["active"] = True
            pool = await services.create_pool(
                changes,
                _list(_text(form, "members")),
                actor=principal.actor,
                source="web",
            )
        except DomainError as exc:
            draft = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf_token"}
            return await self._index(principal, error=exc, draft=draft)
        return Redirect(path=f"/pools/{pool.id}", query_params={"done": "created"}, status_code=303)

    @post("/import", **access(Role.admin))
    async def import_file(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        upload = form.get("file")
        if isinstance(upload, UploadFile):
            data = await upload.read()
        else:
            data = _text(form, "csv").encode()
        if not data.strip():
            return await self._index(principal, error=InputError("file", "choose a CSV file"))
        result = await import_pools(data, actor=principal.actor, source="web")
        if not result.ok:
            return await self._index(principal, import_errors=result.errors)
        return Redirect(path="/pools", query_params={"done": "imported"}, status_code=303)

    # ------------------------------------------------------------------------ the report

    @get("/report", **access(*READ))
    async def report(
        self,
        principal: CurrentPrincipal,
        request: FormRequest,
    ) -> Template:
        start, end, raw, error = self._window(request)
        report = await pool_report(day_start(start), day_end(end)) if not error else None
        return Template(
            "pools/report.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "report": report,
                "form": raw,
                "csv_query": urlencode({k: v for k, v in raw.items() if v}),
                "error": error,
            },
        )

    @get("/report.csv", **access(*READ))
    async def report_csv(self, request: FormRequest) -> Response[str]:
        start, end, _, error = self._window(request)
        if error:
            raise error
        report = await pool_report(day_start(start), day_end(end))
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="pools-report.csv"'},
        )

    @staticmethod
    def _window(
        request: FormRequest,
    ) -> tuple[date | None, date | None, dict[str, str], DomainError | None]:
        raw = {k: str(request.query_params.get(k) or "").strip()[:20] for k in ("from", "to")}
        days: dict[str, date | None] = {}
        try:
            for name, text in raw.items():
                try:
                    days[name] = date.fromisoformat(text) if text else None
                except ValueError:
                    raise InputError(name, "a date such as 2026-11-30") from None
            if days["from"] and days["to"] and days["to"] < days["from"]:
                raise InputError("to", "on or after from")
        except DomainError as exc:
            return None, None, raw, exc
        return days["from"], days["to"], raw, None

    # ------------------------------------------------------------------------- one pool

    @get("/{pool_id:int}", **access(*READ))
    async def detail(
        self,
        principal: CurrentPrincipal,
        pool_id: FromPath[int],
        done: FromQuery[str | None] = None,
    ) -> Template:
        return await self._detail(principal, pool_id, NOTICES.get(done or ""))

    async def _detail(
        self,
        principal: Principal,
        pool_id: int,
        notice: str | None = None,
        error: DomainError | None = None,
    ) -> Template:
        pool = await services.get_pool(pool_id)
        members = {m.csm for m in pool.members}
        return Template(
            "pools/detail.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "pool": pool,
                "rules": RULE_LABELS,
                "kinds": [k.value for k in CsmKind],
                "candidates": [c for c in await _csms() if c["id"] not in members],
                "csms": await _csms(),
                "audience_text": audience_text(pool.audience),
                "audience_fields": AUDIENCE_SHOWN,
                "other_audience": sorted(set(pool.audience) - set(AUDIENCE_SHOWN)),
                "can_edit": principal.role is Role.admin,
                "notice": notice,
                "error": error,
            },
        )

    @post("/{pool_id:int}", **access(Role.admin))
    async def save(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        try:
            changes = settings_from_form(form)
            current = await services.get_pool(pool_id)
            # audience fields the form does not show (traits, currency) are kept
            kept = {k: v for k, v in current.audience.items() if k not in AUDIENCE_SHOWN}
            changes["audience"] = {**changes.get("audience", {}), **kept}
            await services.update_pool(pool_id, changes, actor=principal.actor, source="web")
        except DomainError as exc:
            return await self._detail(principal, pool_id, error=exc)
        return Redirect(path=f"/pools/{pool_id}", query_params={"done": "saved"}, status_code=303)

    @post("/{pool_id:int}/members", **access(Role.admin))
    async def add_member(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], request: FormRequest
    ) -> Redirect | Template:
        form = await request.form()
        try:
            await services.add_members(
                pool_id, [_text(form, "email")], actor=principal.actor, source="web"
            )
        except DomainError as exc:
            return await self._detail(principal, pool_id, error=exc)
        return Redirect(path=f"/pools/{pool_id}", query_params={"done": "added"}, status_code=303)

    @post("/{pool_id:int}/members/{csm_id:int}/remove", **access(Role.admin))
    async def remove_member(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], csm_id: FromPath[int]
    ) -> Redirect | Template:
        try:
            await services.remove_member(pool_id, csm_id, actor=principal.actor, source="web")
        except DomainError as exc:
            return await self._detail(principal, pool_id, error=exc)
        return Redirect(path=f"/pools/{pool_id}", query_params={"done": "removed"}, status_code=303)

    @post("/{pool_id:int}/members/{csm_id:int}/profile", **access(Role.admin))
    async def member_profile(
        self,
        principal: CurrentPrincipal,
        pool_id: FromPath[int],
        csm_id: FromPath[int],
        request: FormRequest,
    ) -> Redirect | Template:
        form = await request.form()
        try:
            await services.update_csm_profile(
                csm_id,
                {"kind": _text(form, "kind"), "meeting_url": _text(form, "meeting_url")},
                actor=principal.actor,
                source="web",
            )
        except DomainError as exc:
            return await self._detail(principal, pool_id, error=exc)
        return Redirect(path=f"/pools/{pool_id}", query_params={"done": "profile"}, status_code=303)

    # -------------------------------------------------------------------------- claiming

    @post("/claim/{cta_id:int}", **access(*CLAIM))
    async def claim(
        self, principal: CurrentPrincipal, cta_id: FromPath[int], request: FormRequest
    ) -> Redirect:
        """The Claim button of the Today page and the CTA pages: back where it was pressed,
        with `done=` saying what happened (claim, already_claimed, already_yours, unchanged,
        not_member)."""
        form = await request.form()
        back = local_path(form.get("next"), f"/ctas/{cta_id}")
        if principal.csm_id is None:
            outcome = "not_member"
        else:
            try:
                change = await claim_cta(
                    cta_id, principal.csm_id, actor=principal.actor, source="web"
                )
                outcome = change.outcome
            except Forbidden:
                outcome = "not_member"
        return Redirect(path=with_notice(back, outcome), status_code=303)
