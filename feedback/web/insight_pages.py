"""/insights: the landing page for product teams, managers and executives.

Each part answers one question in a line or a short list and links to the report that
explains it. Scoped like the reports: a CSM sees their own accounts, and the answers are
production ones unless `environment=` names another (the links carry it on).
"""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.reports.insights import (
    accounts_to_protect,
    churn_link,
    quarter_nps,
    segments_that_moved,
)
from feedback.themes.reports import rising_themes
from feedback.web.report_views import PageRequest, StaffPages, _raw, failed, read_form, render


class InsightPages(StaffPages):
    path = "/insights"

    @get("/", **access(*ALL_ROLES))
    async def insights(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        name = "insights.html"
        try:
            form = read_form(request, filter_names=())
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        environment = form.environment
        quarter = await quarter_nps(principal, environment=environment)
        protect, protect_total = await accounts_to_protect(principal, environment=environment)
        # themes are counted from production answers only (feedback/themes): none are shown
        # for another environment rather than production's under its banner
        rising = await rising_themes(principal, limit=5) if environment == PRODUCTION else None
        movers = await segments_that_moved(principal, environment=environment)
        churn = await churn_link(principal, environment=environment)
        return render(
            name,
            principal,
            form,
            quarter=quarter,
            protect=protect,
            protect_total=protect_total,
            rising=rising,
            movers=movers,
            churn=churn,
        )
