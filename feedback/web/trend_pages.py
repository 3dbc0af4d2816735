"""The NPS trends by segment page: how NPS is trending by plan, role, CSM... on one chart
(issue 17).

Reads its query string as the other report pages do (a bad value is the page with the
message naming the field, 422) and calls the API's service (`trend_report`), with the same
scoping: a CSM sees their own accounts. Its CSV link is a page route, since the API takes
tokens and the page a session.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.response import Template
from markupsafe import Markup

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.kernel.errors import InputError
from feedback.reports.services import TRAIT_PREFIX
from feedback.reports.trends import DEFAULT_TOP, MAX_TOP, TrendReport, trend_csv, trend_report
from feedback.web.charts import Point, Series, line_chart
from feedback.web.report_views import (
    Form,
    PageRequest,
    StaffPages,
    _raw,
    context,
    form_again,
    read_form,
    render,
    trait_names_offered,
)

DIMENSIONS = {
    "plan": "Plan",
    "role": "User role",
    "industry": "Industry",
    "company_size": "Company size",
    "csm": "CSM",
    "manager": "Manager",
    "trait": "Custom trait",
}
PERIODS = {"quarter": "Quarter", "month": "Month"}
TOPS = [(str(n), f"{n} largest") for n in range(1, MAX_TOP + 1)]
TEMPLATE = "reports/trends.html"


async def _report(principal: CurrentPrincipal, request: PageRequest) -> tuple[Form, TrendReport]:
    form = read_form(request, filter_names=())
    dimension = form.choice("dimension", DIMENSIONS, "plan")
    if dimension == "trait":
        trait = form.get("trait")
        if not trait:
            raise InputError("trait", "name the trait to segment by, e.g. region")
        dimension = TRAIT_PREFIX + trait
    period = form.choice("period", PERIODS, "quarter")
    top = form.integer("top", DEFAULT_TOP, 1, MAX_TOP)
    report = await trend_report(
        principal,
        dimension,
        period,
        form.date_from,
        form.date_to,
        top,
        environment=form.environment,
    )
    return form, report


def trend_chart(report: TrendReport, label: str) -> Markup | None:
    """One line and interval band per line of the report, each named at its end."""
    if not report.periods:
        return None
    series = [
        Series(
            one.label,
            {
                p.period: Point(p.nps, p.ci_low, p.ci_high, f"n={p.responses}")
                for p in one.points
                if p.nps is not None
            },
            "series-all" if one.kind == "all" else "",
        )
        for one in report.series
    ]
    return line_chart(
        report.periods,
        series,
        title=f"NPS by {report.period} for each {label.lower()}",
        desc=f"NPS per {report.period}, one line per {label.lower()} (the largest by answers, "
        "the rest as Other, and All), each with its confidence interval as a shaded band; "
        "periods with fewer than 5 answers show no point.",
        chart_id="trends-chart",
        height=360,
        end_labels=True,
        legend=False,
    )


def _options() -> dict[str, Any]:
    return {"dimensions": DIMENSIONS, "periods": PERIODS, "tops": TOPS}


class TrendPages(StaffPages):
    path = "/reports"

    @get("/trends", **access(*ALL_ROLES))
    async def trends(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """How is NPS trending by segment?"""
        try:
            form, report = await _report(principal, request)
        except InputError as exc:
            form = form_again(_raw(request))
            return Template(
                TEMPLATE,
                status_code=422,
                context=context(
                    principal,
                    form=form,
                    error=exc,
                    trait_names=await trait_names_offered(principal, form),
                    **_options(),
                ),
            )
        dimension = form.get("dimension") or "plan"
        label = (
            f"Trait {form.get('trait')}" if dimension == "trait" else DIMENSIONS.get(dimension, "")
        )
        return render(
            TEMPLATE,
            principal,
            form,
            trait_names=await trait_names_offered(principal, form),
            report=report,
            label=label,
            chart=trend_chart(report, label),
            csv_query=form.query_string(),
            **_options(),
        )

    @get("/trends.csv", **access(*ALL_ROLES))
    async def trends_csv(self, principal: CurrentPrincipal, request: PageRequest) -> Response[Any]:
        """The page's trend as CSV: the API's columns (formula-escaped)."""
        _, report = await _report(principal, request)
        text = "".join([chunk async for chunk in trend_csv(report)])
        return Response(
            text,
            media_type="text/csv",  # Litestar adds the charset
            headers={"content-disposition": 'attachment; filename="nps-trends.csv"'},
        )
