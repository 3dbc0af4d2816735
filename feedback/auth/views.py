"""API for identity and administration: who am I, tokens, staff users, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from feedback.auth import staff_users as staff
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.auth.models import AuditEntry
from feedback.auth.services import (
    audit,
    create_staff_user,
    create_token,
    csm_id_for_email,
    list_tokens,
    revoke_token,
)
from feedback.kernel.errors import InputError, NotFound
from feedback.kernel.principal import Role


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    role: Role
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    csm_email: str | None = None
    # the staff user the token acts for: deactivating them revokes it
    owner_email: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class StaffUserIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    role: Role
    password: Annotated[str, msgspec.Meta(max_length=1000)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    csm_email: str | None = None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: Role
    csm_email: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=1000)]


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
        owner_id = None
        if data.owner_email:
            try:
                owner_id = await staff.find_staff_user(data.owner_email, "owner_email")
            except NotFound as exc:
                raise InputError("owner_email", exc.message) from None
        token, info = await create_token(data.role, data.name, principal.actor, csm_id, owner_id)
        await audit(
            principal.actor,
            principal.source,
            "token.create",
            info["prefix"],
            {"role": data.role.value, "name": data.name, "owner_email": data.owner_email},
        )
        return {**info, "token": token}

    @delete("/tokens/{token_id:int}", summary="Revoke an API token", **access(Role.admin))
    async def revoke_token(self, principal: CurrentPrincipal, token_id: FromPath[int]) -> None:
        if not await revoke_token(token_id):
            raise NotFoundException(f"no active token {token_id}")
        await audit(principal.actor, principal.source, "token.revoke", str(token_id))

    @get("/staff-users", summary="Staff users", **access(Role.admin))
    async def staff_users(self) -> list[dict[str, Any]]:
        return await staff.list_staff_users()

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

    @post(
        "/staff-users/{user_id:int}/deactivate",
        summary="Deactivate a staff user: their sessions end and the tokens they own are revoked",
        status_code=200,
        **access(Role.admin),
    )
    async def deactivate_staff_user(
        self, principal: CurrentPrincipal, user_id: FromPath[int]
    ) -> dict[str, Any]:
        return await staff.set_active(user_id, False, principal.actor, principal.source)

    @post(
        "/staff-users/{user_id:int}/activate",
        summary="Activate a staff user again",
        status_code=200,
        **access(Role.admin),
    )
    async def activate_staff_user(
        self, principal: CurrentPrincipal, user_id: FromPath[int]
    ) -> dict[str, Any]:
        return await staff.set_active(user_id, True, principal.actor, principal.source)

    @put(
        "/staff-users/{user_id:int}/role",
        summary="Change a staff user's role (applies from their next request)",
        **access(Role.admin),
    )
    async def set_staff_user_role(
        self, principal: CurrentPrincipal, user_id: FromPath[int], data: JSONBody[RoleIn]
    ) -> dict[str, Any]:
        return await staff.set_role(
            user_id, data.role, data.csm_email, principal.actor, principal.source
        )

    @put(
        "/staff-users/{user_id:int}/password",
        summary="Reset a staff user's password (their sessions end)",
        **access(Role.admin),
    )
    async def reset_staff_user_password(
        self, principal: CurrentPrincipal, user_id: FromPath[int], data: JSONBody[PasswordIn]
    ) -> dict[str, Any]:
        return await staff.reset_password(user_id, data.password, principal.actor, principal.source)

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
