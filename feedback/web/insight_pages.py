"""/insights: the landing page for product teams, managers and executives.

Each part answers one question in a line or a short list and links to the report that
explains it. Scoped like the reports: a CSM sees their own accounts.
"""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.reports.insights import (
    accounts_to_protect,
    churn_link,
    quarter_nps,
    segments_that_moved,
)
from feedback.themes.reports import rising_themes
from feedback.web.report_views import StaffPages, render


class InsightPages(StaffPages):
    path = "/insights"

    @get("/", **access(*ALL_ROLES))
    async def insights(self, principal: CurrentPrincipal) -> Template:
        quarter = await quarter_nps(principal)
        protect, protect_total = await accounts_to_protect(principal)
        rising = await rising_themes(principal, limit=5)
        movers = await segments_that_moved(principal)
        churn = await churn_link(principal)
        return render(
            "insights.html",
            principal,
            None,
            quarter=quarter,
            protect=protect,
            protect_total=protect_total,
            rising=rising,
            movers=movers,
            churn=churn,
        )
