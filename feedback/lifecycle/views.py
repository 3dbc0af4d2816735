"""Export on request (admins): `GET /api/v1/accounts/{id}/export`. The erasures share
their paths with the account and user reads, so they live in feedback/accounts/views.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import Provide
from litestar.params import FromPath

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.kernel.principal import Role
from feedback.lifecycle import services


class LifecycleController(Controller):
    path = "/api/v1"
    tags = ["data lifecycle"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/accounts/{external_id:str}/export",
        summary="Everything stored about one account, as JSON",
        **access(Role.admin),
    )
    async def export_account(
        self, principal: CurrentPrincipal, external_id: FromPath[str]
    ) -> dict[str, Any]:
        data = await services.export_account(external_id)
        from feedback.auth.services import audit

        await audit(principal.actor, principal.source, "export.account", external_id, {})
        return data
