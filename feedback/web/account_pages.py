"""The account page (issue 18): one account's answers, health, CTAs, programs and churn.

Every role that may see the account reads it; a CSM reads only their own accounts (another's
is the 403 page, an unknown one the 404 page)."""

from __future__ import annotations

from datetime import date, timedelta

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from feedback.accounts.overview import ANSWERS_PER_PAGE, AccountOverview, account_overview
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.ctas.actions import OUTCOME_LABELS
from feedback.ctas.rule_settings import cta_types
from feedback.health.score_settings import load_health_settings
from feedback.kernel.errors import InputError
from feedback.web.charts import Point, Series, line_chart
from feedback.web.health_pages import band_zones, every_day
from feedback.web.report_views import StaffPages, trend_chart
from feedback.web.views import accounts_page

MAX_OFFSET = 1_000_000


class AccountPages(StaffPages):
    path = "/accounts"

    @get("/", **access(*ALL_ROLES))
    async def index(
        self, principal: CurrentPrincipal, status: FromQuery[str] = "", offset: FromQuery[int] = 0
    ) -> Template:
        """Every account the caller may see (the home page's list, for those whose home is
        Today)."""
        return await accounts_page(principal, status, offset, "/accounts/")

    @get("/{external_id:str}", **access(*ALL_ROLES))
    async def account(
        self,
        principal: CurrentPrincipal,
        external_id: FromPath[str],
        answers: FromQuery[int] = 0,
    ) -> Template:
        """Everything about one account: who looks after it, how its people feel, its health,
        what was done (CTAs, programs) and whether it left."""
        if not 0 <= answers <= MAX_OFFSET or answers % ANSWERS_PER_PAGE:
            raise InputError("answers", f"a multiple of {ANSWERS_PER_PAGE} from 0")
        overview = await account_overview(principal, external_id, answers_offset=answers)
        name = overview.account.name
        return Template(
            "accounts/detail.html",
            context={
                "principal": principal,
                "o": overview,
                "a": overview.account,
                "types": await cta_types(),
                "outcome_labels": {str(k): v for k, v in OUTCOME_LABELS.items()},
                "nps_chart": trend_chart(
                    overview.nps_by_quarter, f"NPS by quarter: {name}", "account-nps"
                ),
                "health_chart": await _health_chart(overview),
                "answers_offset": answers,
                "page_size": ANSWERS_PER_PAGE,
            },
        )


async def _health_chart(overview: AccountOverview) -> Markup | None:
    days = overview.health.days
    if not days or overview.health.day is None:
        return None
    first = _day(days[0]["day"])
    points = {_day(d["day"]).isoformat(): Point(d["score"], note=d["band"]) for d in days}
    return line_chart(
        every_day(first, max(_day(days[-1]["day"]), first + timedelta(days=1))),
        [Series(overview.account.name, points)],
        title=f"Health score per day: {overview.account.name}",
        desc="The account's score (0 to 100) per day, each point naming its band; the shading "
        "marks the band limits. A day without a score breaks the line.",
        chart_id="account-health",
        domain=(0.0, 100.0),
        zones=band_zones(await load_health_settings()),
    )


def _day(value: object) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]
