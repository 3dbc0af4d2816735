"""Read API for the customer book: CSMs, accounts and their end users."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, delete, get, patch
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec.structs import asdict

from feedback.accounts import services
from feedback.accounts.models import AccountStatus
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.kernel.errors import Forbidden
from feedback.kernel.principal import Role
from feedback.lifecycle import services as lifecycle
from feedback.pools.services import update_csm_profile

EraseMode = Literal["anonymise", "delete"]


class AccountController(Controller):
    path = "/api/v1"
    tags = ["accounts"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/accounts", summary="List accounts (a CSM sees only their own)", **access(*ALL_ROLES))
    async def list_accounts(
        self,
        principal: CurrentPrincipal,
        csm_email: FromQuery[str | None] = None,
        plan: FromQuery[str | None] = None,
        status: FromQuery[AccountStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        accounts = await services.list_accounts(
            principal,
            csm_email=csm_email,
            plan=plan,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
        return [asdict(account) for account in accounts]

    @get("/accounts/{external_id:str}", summary="One account", **access(*ALL_ROLES))
    async def get_account(
        self, principal: CurrentPrincipal, external_id: FromPath[str]
    ) -> dict[str, Any]:
        return asdict(await services.get_account(principal, external_id))

    @get(
        "/accounts/{external_id:str}/users", summary="An account's end users", **access(*ALL_ROLES)
    )
    async def list_account_users(
        self, principal: CurrentPrincipal, external_id: FromPath[str]
    ) -> list[dict[str, Any]]:
        return [asdict(user) for user in await services.list_account_users(principal, external_id)]

    @get("/users/{external_id:str}", summary="One end user", **access(*ALL_ROLES))
    async def get_end_user(
        self, principal: CurrentPrincipal, external_id: FromPath[str]
    ) -> dict[str, Any]:
        return asdict(await services.get_end_user(principal, external_id))

    @get("/csms", summary="CSMs and their managers", **access(*ALL_ROLES))
    async def list_csms(self) -> list[dict[str, Any]]:
        return [asdict(csm) for csm in await services.list_csms()]

    @patch(
        "/csms/{csm_id:int}",
        summary="A CSM's kind (dedicated or pooled) and meeting link; anyone their own link",
        **access(*ALL_ROLES),
    )
    async def update_csm(
        self, principal: CurrentPrincipal, csm_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        """Body: `{"kind": "pooled", "meeting_url": "https://cal.example/sam"}` (either).
        Admins change any CSM; others only their own meeting link."""
        if principal.role is not Role.admin and (csm_id != principal.csm_id or "kind" in data):
            raise Forbidden("only an admin changes another CSM, or a CSM's kind")
        return await update_csm_profile(
            csm_id, dict(data), actor=principal.actor, source=principal.source
        )

    @delete(
        "/users/{external_id:str}",
        summary="Erase an end user (their answers anonymised, or deleted with mode=delete)",
        status_code=200,
        **access(Role.admin),
    )
    async def erase_user(
        self,
        principal: CurrentPrincipal,
        external_id: FromPath[str],
        mode: FromQuery[EraseMode] = "anonymise",
    ) -> dict[str, Any]:
        return await lifecycle.erase_user(external_id, mode, principal.actor, principal.source)

    @delete(
        "/accounts/{external_id:str}",
        summary="Erase an account (anonymised, or deleted with everything with mode=delete)",
        status_code=200,
        **access(Role.admin),
    )
    async def erase_account(
        self,
        principal: CurrentPrincipal,
        external_id: FromPath[str],
        mode: FromQuery[EraseMode] = "anonymise",
    ) -> dict[str, Any]:
        return await lifecycle.erase_account(external_id, mode, principal.actor, principal.source)
