"""API for identity and administration: who am I, tokens, staff users, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.auth.models import AuditEntry, StaffUser
from feedback.auth.services import (
    audit,
    create_staff_user,
    create_token,
    csm_id_for_email,
    list_tokens,
    revoke_token,
)
from feedback.kernel.principal import Role


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    role: Role
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    csm_email: str | None = None


class StaffUserIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    role: Role
    password: Annotated[str, msgspec.Meta(max_length=1000)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    csm_email: str | None = None


class AdminController(Controller):
    path = "/api/v1"
    tags = ["administration"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/me", summary="The caller's identity and role", **access(*ALL_ROLES))
    async def me(self, principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "actor": principal.actor,
            "role": principal.role.value,
            "source": principal.source,
            "csm_id": principal.csm_id,
        }

    @get("/tokens", summary="API tokens (never their secret)", **access(Role.admin))
    async def tokens(self) -> list[dict[str, Any]]:
        return await list_tokens()

    @post(
        "/tokens",
        summary="Create an API token; the token is shown only in this answer",
        **access(Role.admin),
    )
    async def create_token(
        self, principal: CurrentPrincipal, data: JSONBody[TokenIn]
    ) -> dict[str, Any]:
        csm_id = await csm_id_for_email(data.csm_email, data.role)
        token, info = await create_token(data.role, data.name, principal.actor, csm_id)
        await audit(
            principal.actor,
            principal.source,
            "token.create",
            info["prefix"],
            {"role": data.role.value, "name": data.name},
        )
        return {**info, "token": token}

    @delete("/tokens/{token_id:int}", summary="Revoke an API token", **access(Role.admin))
    async def revoke_token(self, principal: CurrentPrincipal, token_id: FromPath[int]) -> None:
        if not await revoke_token(token_id):
            raise NotFoundException(f"no active token {token_id}")
        await audit(principal.actor, principal.source, "token.revoke", str(token_id))

    @get("/staff-users", summary="Staff users", **access(Role.admin))
    async def staff_users(self) -> list[dict[str, Any]]:
        return await StaffUser.select(
            StaffUser.id,
            StaffUser.email,
            StaffUser.name,
            StaffUser.role,
            StaffUser.csm.email.as_alias("csm_email"),
            StaffUser.active,
            StaffUser.created_at,
            StaffUser.last_login_at,
        ).order_by(StaffUser.email)

    @post("/staff-users", summary="Create a staff user", **access(Role.admin))
    async def create_staff_user(
        self, principal: CurrentPrincipal, data: JSONBody[StaffUserIn]
    ) -> dict[str, Any]:
        csm_id = await csm_id_for_email(data.csm_email, data.role)
        user = await create_staff_user(data.email, data.role, data.password, data.name, csm_id)
        await audit(
            principal.actor,
            principal.source,
            "staff_user.create",
            user["email"],
            {"role": data.role.value},
        )
        return user

    @get("/audit", summary="Audit log of admin changes, newest first", **access(Role.admin))
    async def audit_log(
        self,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        return await (
            AuditEntry.select()
            .order_by(AuditEntry.id, ascending=False)
            .limit(limit)
            .offset(offset)
            .output(load_json=True)
        )
