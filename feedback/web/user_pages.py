"""The admin page for staff users: create, deactivate, activate, change a role, reset a
password. Every change goes through `feedback.auth.staff_users` (checked and audited there)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.auth import staff_users
from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.auth.services import audit, create_staff_user, csm_id_for_email, parse_role
from feedback.errors import status_of
from feedback.kernel.errors import DomainError
from feedback.kernel.principal import Principal, Role

FormRequest = Request[Any, Any, State]

# what a redirect after a change may say: only these fixed texts, never words from the URL
NOTICES = {
    "created": "Staff user created.",
    "deactivated": "Deactivated: their sessions ended and their API tokens were revoked.",
    "activated": "Activated: they can sign in again.",
    "role": "Role changed: it applies from their next page or call.",
    "password": "Password reset: their sessions ended; they sign in with the new password.",
}


class UserPages(Controller):
    path = "/admin/users"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    guards = access(Role.admin)["guards"]

    async def _page(
        self,
        principal: Principal,
        done: str | None = None,
        error: DomainError | None = None,
        draft: dict[str, Any] | None = None,
    ) -> Template:
        return Template(
            "admin/users.html",
            status_code=status_of(error) if error else 200,
            context={
                "principal": principal,
                "users": await staff_users.list_staff_users(),
                "roles": [r.value for r in Role],
                "notice": NOTICES.get(done or ""),
                "error": error,
                "draft": draft or {},
            },
        )

    @get("/")
    async def users(
        self, principal: CurrentPrincipal, done: FromQuery[str | None] = None
    ) -> Template:
        return await self._page(principal, done)

    @post("/")
    async def create(
        self, principal: CurrentPrincipal, request: FormRequest
    ) -> Template | Redirect:
        form = await request.form()
        draft = {k: str(form.get(k) or "").strip() for k in ("email", "name", "role", "csm_email")}
        try:
            role = parse_role(draft["role"])
            csm_id = await csm_id_for_email(draft["csm_email"] or None, role)
            user = await create_staff_user(
                draft["email"], role, str(form.get("password") or ""), draft["name"][:200], csm_id
            )
            await audit(
                principal.actor, "web", "staff_user.create", user["email"], {"role": role.value}
            )
        except DomainError as exc:
            return await self._page(principal, error=exc, draft=draft)
        return Redirect(path="/admin/users", query_params={"done": "created"}, status_code=303)

    @post("/{user_id:int}/active")
    async def set_active(
        self, principal: CurrentPrincipal, request: FormRequest, user_id: FromPath[int]
    ) -> Template | Redirect:
        active = (await request.form()).get("active") == "true"
        try:
            await staff_users.set_active(user_id, active, principal.actor, "web")
        except DomainError as exc:
            return await self._page(principal, error=exc)
        done = "activated" if active else "deactivated"
        return Redirect(path="/admin/users", query_params={"done": done}, status_code=303)

    @post("/{user_id:int}/role")
    async def set_role(
        self, principal: CurrentPrincipal, request: FormRequest, user_id: FromPath[int]
    ) -> Template | Redirect:
        form = await request.form()
        try:
            role = parse_role(str(form.get("role") or ""))
            # the form shows the current CSM: it only counts when the new role is csm
            csm_email = str(form.get("csm_email") or "").strip() or None
            csm_email = csm_email if role is Role.csm else None
            await staff_users.set_role(user_id, role, csm_email, principal.actor, "web")
        except DomainError as exc:
            return await self._page(principal, error=exc)
        return Redirect(path="/admin/users", query_params={"done": "role"}, status_code=303)

    @post("/{user_id:int}/password")
    async def reset_password(
        self, principal: CurrentPrincipal, request: FormRequest, user_id: FromPath[int]
    ) -> Template | Redirect:
        password = str((await request.form()).get("password") or "")
        try:
            await staff_users.reset_password(user_id, password, principal.actor, "web")
        except DomainError as exc:
            return await self._page(principal, error=exc)
        # resetting one's own password ends one's own session too: sign in again
        if user_id == principal.staff_user_id:
            request.clear_session()
            return Redirect(path="/login", status_code=303)
        return Redirect(path="/admin/users", query_params={"done": "password"}, status_code=303)
