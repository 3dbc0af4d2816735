"""Comment theme pages: the report "what are customers talking about, and does it matter?"
(/reports/themes) and the admins' curation (/admin/themes).

The report calls the API's service with the same scoping (a CSM sees their own accounts'
comments) and the same environment (`environment=`: production unless asked; the themes are
learned from production comments, and another environment's comments are shown in the themes
that model placed them in); a bad value is the page with the message naming the field (422).
The admin page's
forms post with the CSRF token like the other admin pages and answer with a redirect, or the
page with the message (422) when the input is refused.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.auth.services import audit
from feedback.kernel.errors import DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports.services import spreadsheet_safe
from feedback.themes import curate
from feedback.themes.assign import assign_new_comments
from feedback.themes.build import build_themes
from feedback.themes.members import LANGUAGES, all_themes
from feedback.themes.reports import CSV_COLUMNS, answers_per_theme, csv_rows, theme_report
from feedback.web.report_views import (
    Form,
    PageRequest,
    StaffPages,
    _raw,
    context,
    read_form,
    render,
)

LANGUAGE_LABELS = {"en": "English", "ja": "Japanese"}
REPORT = "reports/themes.html"
ADMIN = "admin/themes.html"
STATUS_LABELS = {
    "active": "shown",
    "hidden": "hidden",
    "merged": "merged",
    "retired": "retired",
}


async def _report(principal: Principal, request: PageRequest) -> tuple[Form, Any]:
    form = read_form(request, filter_names=())
    language = form.get("language") or None
    if language is not None:
        form.choice("language", LANGUAGE_LABELS, "en")
    report = await theme_report(
        principal,
        language=language,
        date_from=form.date_from,
        date_to=form.date_to,
        environment=form.environment,
    )
    return form, report


class ThemePages(StaffPages):
    path = "/reports/themes"

    @get("/", **access(*ALL_ROLES))
    async def page(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        options = {"languages": LANGUAGE_LABELS}
        try:
            form, report = await _report(principal, request)
        except InputError as exc:
            return Template(
                REPORT,
                status_code=422,
                context=context(principal, form=Form(_raw(request)), error=exc, **options),
            )
        return render(
            REPORT, principal, form, report=report, csv_query=form.query_string(), **options
        )

    @get("/download.csv", **access(*ALL_ROLES))
    async def download(self, principal: CurrentPrincipal, request: PageRequest) -> Response[Any]:
        """The page's report as CSV: the API's columns (formula-escaped)."""
        _, report = await _report(principal, request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in csv_rows(report):
            writer.writerow(["" if v is None else spreadsheet_safe(v) for v in row])
        return Response(
            out.getvalue(),
            media_type="text/csv",  # Litestar adds the charset
            headers={"content-disposition": 'attachment; filename="themes.csv"'},
        )


def _theme_id(form: Any, name: str) -> int:
    text = (form.get(name) or "").strip()
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        raise InputError(name, "choose a theme")
    return int(text)


class ThemeAdminPages(Controller):
    """/admin/themes: rename, pin, hide, merge, split, keyword themes, rebuild."""

    path = "/admin/themes"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    guards = access(Role.admin)["guards"]

    async def _page(
        self,
        principal: Principal,
        *,
        error: DomainError | None = None,
        saved: str | None = None,
        status_code: int = 200,
    ) -> Template:
        counts = await answers_per_theme(principal)
        themes = [t for t in await all_themes() if t.status != "retired"]
        themes.sort(key=lambda t: (t.status != "active", -counts.get(t.id, 0), t.id))
        return Template(
            ADMIN,
            status_code=status_code,
            context={
                "principal": principal,
                "themes": themes,
                "counts": counts,
                "languages": LANGUAGE_LABELS,
                "statuses": STATUS_LABELS,
                "error": error,
                "saved": saved,
            },
        )

    async def _do(
        self, principal: Principal, action: str, work: Any, details: dict[str, Any]
    ) -> Redirect | Template:
        try:
            await work
        except (InputError, DomainError) as exc:
            status = 404 if type(exc).__name__ == "NotFound" else 422
            return await self._page(principal, error=exc, status_code=status)
        await audit(principal.actor, "web", f"themes.{action}", "theme", details)
        return Redirect(path="/admin/themes", query_params={"saved": action}, status_code=303)

    @get("/")
    async def page(
        self, principal: CurrentPrincipal, saved: FromQuery[str | None] = None
    ) -> Template:
        return await self._page(principal, saved=saved)

    @post("/{theme_id:int}/rename")
    async def rename(
        self, principal: CurrentPrincipal, request: PageRequest, theme_id: FromPath[int]
    ) -> Redirect | Template:
        label = (await request.form()).get("label") or ""
        work = curate.update_theme(theme_id, {"label": label})
        return await self._do(principal, "rename", work, {"id": theme_id, "label": label})

    @post("/{theme_id:int}/pin")
    async def pin(
        self, principal: CurrentPrincipal, request: PageRequest, theme_id: FromPath[int]
    ) -> Redirect | Template:
        pinned = (await request.form()).get("pinned") == "true"
        work = curate.update_theme(theme_id, {"pinned": pinned})
        return await self._do(principal, "pin", work, {"id": theme_id, "pinned": pinned})

    @post("/{theme_id:int}/hide")
    async def hide(
        self, principal: CurrentPrincipal, request: PageRequest, theme_id: FromPath[int]
    ) -> Redirect | Template:
        hidden = (await request.form()).get("hidden") == "true"
        work = curate.update_theme(theme_id, {"hidden": hidden})
        return await self._do(principal, "hide", work, {"id": theme_id, "hidden": hidden})

    @post("/merge")
    async def merge(self, principal: CurrentPrincipal, request: PageRequest) -> Redirect | Template:
        form = await request.form()
        try:
            into = _theme_id(form, "into")
            source = _theme_id(form, "theme")
        except InputError as exc:
            return await self._page(principal, error=exc, status_code=422)
        work = curate.merge_themes(into, [source])
        return await self._do(principal, "merge", work, {"into": into, "themes": [source]})

    @post("/{theme_id:int}/split")
    async def split(
        self, principal: CurrentPrincipal, theme_id: FromPath[int]
    ) -> Redirect | Template:
        return await self._do(principal, "split", curate.split_theme(theme_id), {"id": theme_id})

    @post("/keyword")
    async def keyword(
        self, principal: CurrentPrincipal, request: PageRequest
    ) -> Redirect | Template:
        form = await request.form()
        label = form.get("label") or ""
        keywords = [k.strip() for k in (form.get("keywords") or "").split(",") if k.strip()]
        language = form.get("language") or None
        work = curate.create_keyword_theme(label, keywords or None, language)
        return await self._do(
            principal, "keyword", work, {"label": label, "keywords": keywords, "language": language}
        )

    @post("/{theme_id:int}/delete")
    async def delete(
        self, principal: CurrentPrincipal, theme_id: FromPath[int]
    ) -> Redirect | Template:
        work = curate.delete_keyword_theme(theme_id)
        return await self._do(principal, "delete", work, {"id": theme_id})

    @post("/build")
    async def build(self, principal: CurrentPrincipal, request: PageRequest) -> Redirect | Template:
        language = (await request.form()).get("language") or None
        if language is not None and language not in LANGUAGES:
            error = InputError("language", "must be English or Japanese")
            return await self._page(principal, error=error, status_code=422)

        async def rebuild() -> None:
            await build_themes([language] if language else None)
            await assign_new_comments()

        return await self._do(principal, "build", rebuild(), {"language": language})
