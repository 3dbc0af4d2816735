"""The CSM's Today page (issue 18): what to do today, for a CSM or a manager's team.

Each CTA row acts through the CTA page's own form route (`POST /ctas/{id}`, compare-and-set
on the version shown) and pool items through `POST /pools/claim/{id}`, both with
`next=/today`, so the person comes back here with a notice."""

from __future__ import annotations

from datetime import timedelta

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from feedback.auth.guards import CurrentPrincipal, access
from feedback.ctas.actions import OUTCOME_LABELS
from feedback.ctas.rule_settings import cta_types
from feedback.kernel.principal import Role
from feedback.today.services import reassign_choices, today_for
from feedback.web.cta_pages import NOTICES
from feedback.web.report_views import StaffPages

ROLES = (Role.csm, Role.manager, Role.admin)


class TodayPages(StaffPages):
    path = "/today"

    @get("/", **access(*ROLES))
    async def today(
        self, principal: CurrentPrincipal, done: FromQuery[str | None] = None
    ) -> Template:
        """What needs me today? Counts, then overdue and due CTAs, new detractors, red
        accounts, renewals, accounts going dark; a manager's team and pool items."""
        today = await today_for(principal)
        message = NOTICES.get(done or "")
        if message and "{status}" in message:
            message = "Nothing to do: someone changed the CTA first; here it is as it is now."
        return Template(
            "today.html",
            context={
                "principal": principal,
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
