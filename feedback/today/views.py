"""The Today API (issue 18): what needs the caller today, as the /today page shows it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import Provide

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.ctas.views import cta_json
from feedback.kernel.principal import Role
from feedback.today.services import today_for

ROLES = (Role.csm, Role.manager, Role.admin)


class TodayController(Controller):
    path = "/api/v1/today"
    tags = ["today"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="What needs me today: overdue and due CTAs, new detractors, red accounts, "
        "renewals, accounts going dark; a manager's team and unclaimed pool items",
        **access(*ROLES),
    )
    async def today(self, principal: CurrentPrincipal) -> dict[str, Any]:
        today = await today_for(principal)
        body = today.as_dict()
        for section in ("overdue", "due_today", "unclaimed_pool"):
            body[section] = [cta_json(cta) for cta in getattr(today, section)]
        return body
