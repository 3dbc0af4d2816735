"""Closing the loop (issue 18): do we close the loop with detractors, and does it win them
back? Loop closure, time to close, outcomes and recovered detractors per CSM, pool or team.

Reads its query string as the other report pages do (a bad value is the page with the
message naming the field, 422) and calls the API's service (`feedback.reports.loop`), with
the same scoping: a CSM sees the CTAs they own or of their accounts. Its CSV link is a page
route, since the API takes tokens and the page a session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Response, get
from litestar.response import Template

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.ctas.actions import OUTCOME_LABELS
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.reports.loop import GROUP_LABELS, GROUPS, LoopReport, loop_csv, loop_report
from feedback.web.formats import MISSING
from feedback.web.report_views import Form, PageRequest, StaffPages, _raw, context, render

TEMPLATE = "reports/loop.html"
# the period's choices: days back from today (raised in the period), or every CTA
PERIODS = {"30": "30 days", "90": "90 days", "365": "12 months", "all": "any time"}
DEFAULT_PERIOD = "365"


def duration(hours: float | None) -> str:
    """A time to close in words: hours under two days, else days."""
    if hours is None:
        return MISSING
    if hours < 48:
        return f"{hours:.0f} h" if hours >= 1 else "< 1 h"
    return f"{hours / 24:.1f} days"


def period_start(form: Form, now: datetime) -> datetime | None:
    """The start of the period chosen (the start of the day `days` ago, in UTC)."""
    period = form.choice("period", PERIODS, DEFAULT_PERIOD)
    if period == "all":
        return None
    day = (now - timedelta(days=int(period))).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _report(principal: CurrentPrincipal, request: PageRequest) -> tuple[Form, LoopReport]:
    form = Form(_raw(request))
    group = form.choice("group", GROUPS, "csm")
    report = await loop_report(principal, group, period_start(form, utcnow()))
    return form, report


def _options() -> dict[str, Any]:
    return {
        "groups": list(GROUP_LABELS.items()),
        "group_headings": {"csm": "Per CSM", "pool": "Per pool", "team": "Per team"},
        "periods": list(PERIODS.items()),
        "default_period": DEFAULT_PERIOD,
        "outcome_labels": {str(k): v for k, v in OUTCOME_LABELS.items()},
        "duration": duration,
    }


class LoopPages(StaffPages):
    # beside ReportPages' /reports routes, so that the CSV is /reports/loop.csv
    path = "/reports"

    @get("/loop", **access(*ALL_ROLES))
    async def loop(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """Do we close the loop with detractors, and does it win them back?"""
        try:
            form, report = await _report(principal, request)
        except InputError as exc:
            return Template(
                TEMPLATE,
                status_code=422,
                context=context(principal, form=Form(_raw(request)), error=exc, **_options()),
            )
        return render(
            TEMPLATE, principal, form, report=report, csv_query=form.query_string(), **_options()
        )

    @get("/loop.csv", **access(*ALL_ROLES))
    async def loop_csv(self, principal: CurrentPrincipal, request: PageRequest) -> Response[Any]:
        """The page's report as CSV: the API's columns."""
        _, report = await _report(principal, request)
        return Response(
            loop_csv(report),
            media_type="text/csv",  # Litestar adds the charset
            headers={"content-disposition": 'attachment; filename="loop.csv"'},
        )
