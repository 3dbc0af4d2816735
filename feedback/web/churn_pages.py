"""The churn by segment page: which segments drive churn (issue 17).

Reads its query string as the other report pages do (a bad value is the page with the
message naming the field, 422) and calls the API's service, with the same scoping: a CSM
sees their own accounts. Its CSV link is a page route, since the API takes tokens and the
page a session.
"""

from __future__ import annotations

import math
from typing import Any

from litestar import Response, get
from litestar.response import Template
from markupsafe import Markup

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.kernel.errors import InputError
from feedback.reports.churn_segments import (
    SORTS,
    ChurnSegmentScan,
    churn_segments,
    churn_segments_csv,
)
from feedback.reports.services import TRAIT_PREFIX
from feedback.web.charts import Bar, bar_chart
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
    "industry": "Industry",
    "company_size": "Company size",
    "csm": "CSM",
    "manager": "Manager",
}
WINDOWS = {"90": "90 days", "180": "180 days", "365": "1 year", "730": "2 years"}
TEMPLATE = "reports/churn_segments.html"


async def _scan(principal: CurrentPrincipal, request: PageRequest) -> tuple[Form, ChurnSegmentScan]:
    form = read_form(request, filter_names=())
    dimension = form.get("dimension") or "plan"
    window = form.integer("window_days", 365, 1, 3650)
    sort = form.get("sort") or "diff"
    scan = await churn_segments(
        principal,
        dimension,
        window,
        0.95,
        form.date_from,
        form.date_to,
        sort=sort,
        environment=form.environment,
    )
    return form, scan


async def _options(principal: CurrentPrincipal, form: Form) -> dict[str, Any]:
    """The filter bar's choices: the segments, then each custom trait of the accounts in
    scope as `trait:NAME`."""
    traits = await trait_names_offered(principal, form, accounts=True)
    dimensions = {**DIMENSIONS, **{TRAIT_PREFIX + name: f"Trait {label}" for name, label in traits}}
    return {"dimensions": dimensions, "windows": WINDOWS, "sorts": SORTS}


def rate_chart(scan: ChurnSegmentScan) -> Markup | None:
    """Each segment's churn rate (%) with its Wilson interval, the axis fitted to the
    largest upper bound (rounded up to the next 10 %)."""
    if not scan.segments:
        return None
    highest = max((s.rate_high or 0.0) for s in scan.segments)
    top = min(100.0, max(10.0, 10 * math.ceil(highest * 10)))
    bars = [
        Bar(
            label=s.key,
            value=None if s.rate is None else 100 * s.rate,
            low=None if s.rate_low is None else 100 * s.rate_low,
            high=None if s.rate_high is None else 100 * s.rate_high,
            note=f"{s.churned} of {s.accounts}"
            + (", differs from the rest" if s.significant else ""),
        )
        for s in scan.segments
    ]
    return bar_chart(
        bars,
        title=f"Churn within {scan.window_days} days by segment (%)",
        desc="One bar per segment from 0 to its churn rate in percent, a whisker across its "
        "Wilson interval; the text names segments that differ significantly from the rest.",
        chart_id="churn-segments",
        domain=(0.0, top),
        empty_text="no accounts",
    )


class ChurnSegmentPages(StaffPages):
    path = "/reports/churn"

    @get("/segments", **access(*ALL_ROLES))
    async def segments(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        try:
            form, scan = await _scan(principal, request)
        except InputError as exc:
            form = form_again(_raw(request))
            return Template(
                TEMPLATE,
                status_code=422,
                context=context(principal, form=form, error=exc, **await _options(principal, form)),
            )
        options = await _options(principal, form)
        return render(
            TEMPLATE,
            principal,
            form,
            scan=scan,
            chart=rate_chart(scan),
            csv_query=form.query_string(),
            **options,
        )

    @get("/segments.csv", **access(*ALL_ROLES))
    async def segments_csv(
        self, principal: CurrentPrincipal, request: PageRequest
    ) -> Response[Any]:
        """The page's scan as CSV: the API's columns (formula-escaped)."""
        _, scan = await _scan(principal, request)
        return Response(
            churn_segments_csv(scan),
            media_type="text/csv",  # Litestar adds the charset
            headers={"content-disposition": 'attachment; filename="churn-segments.csv"'},
        )
