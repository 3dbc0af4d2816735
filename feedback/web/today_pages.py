"""The CSM's Today page (issue 18): what to do today, for a CSM or a manager's team.

Each list shows its first few items, the most urgent first, and links to the whole list
(the CTA list, the reports, or the renewals and going-dark pages here); the counts at the top
count everything. Each CTA row acts through the CTA page's own form route (`POST
/ctas/{id}`, compare-and-set on the version shown) and pool items through `POST
/pools/claim/{id}`, both with `next=/today`, so the person comes back here with a notice."""

from __future__ import annotations

from datetime import timedelta

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from feedback.auth.guards import CurrentPrincipal, access
from feedback.ctas.actions import OUTCOME_LABELS
from feedback.ctas.rule_settings import cta_types
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.today.services import (
    RENEWAL_DAYS,
    going_dark_for,
    reassign_choices,
    renewals_for,
    today_for,
)
from feedback.web.cta_pages import NOTICES
from feedback.web.report_views import StaffPages

ROLES = (Role.csm, Role.manager, Role.admin)
# items each Today section shows; the rest are a link away
SHOWN = 10
# rows of a whole list's page
PAGE_SIZE = 100


class TodayPages(StaffPages):
    path = "/today"

    @get("/", **access(*ROLES))
    async def today(
        self, principal: CurrentPrincipal, done: FromQuery[str | None] = None
    ) -> Template:
        """What needs me today? Counts, then overdue and due CTAs, new detractors, red
        accounts, renewals, accounts going dark; a manager's team and pool items."""
        now = utcnow()
        today = await today_for(principal, now, limit=SHOWN)
        message = NOTICES.get(done or "")
        if message and "{status}" in message:
            message = "Nothing to do: someone changed the CTA first; here it is as it is now."
        return Template(
            "today.html",
            context={
                "principal": principal,
                "now": now,
                "today": today,
                "types": await cta_types(),
                "owners": await reassign_choices(principal),
                "outcomes": [(str(k), v) for k, v in OUTCOME_LABELS.items()],
                "message": message,
                "manager_view": principal.role is not Role.csm,
                "snooze_min": today.day + timedelta(days=1),
                "snooze_default": today.day + timedelta(days=7),
            },
        )

    @get("/renewals", **access(*ROLES))
    async def renewals(self, principal: CurrentPrincipal, offset: FromQuery[int] = 0) -> Template:
        """Every account in my scope renewing in the next 90 days, the soonest first."""
        now = utcnow()
        listing = await renewals_for(principal, now, max(offset, 0), PAGE_SIZE)
        return Template(
            "today_list.html",
            context={
                "principal": principal,
                "kind": "renewals",
                "day": now.date(),
                "listing": listing,
                "days": RENEWAL_DAYS,
                "until": now.date() + timedelta(days=RENEWAL_DAYS),
                "csm_column": principal.role is not Role.csm,
            },
        )

    @get("/going-dark", **access(*ROLES))
    async def going_dark(self, principal: CurrentPrincipal, offset: FromQuery[int] = 0) -> Template:
        """Every account in my scope going dark, the largest first."""
        now = utcnow()
        listing, days = await going_dark_for(principal, now, max(offset, 0), PAGE_SIZE)
        return Template(
            "today_list.html",
            context={
                "principal": principal,
                "kind": "dark",
                "day": now.date(),
                "listing": listing,
                "days": days,
                "csm_column": principal.role is not Role.csm,
            },
        )
