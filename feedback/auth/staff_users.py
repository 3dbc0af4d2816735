"""Managing staff users: list, deactivate, activate, change a role, reset a password.

The CLI, the admin page and the API call these, so each change is checked and audited the
same way whoever makes it. The last active admin can be neither deactivated nor demoted:
nobody could manage the service afterwards.
"""

from __future__ import annotations

from typing import Any

from feedback.auth.models import ApiToken, StaffUser
from feedback.auth.passwords import hash_password, validate_password
from feedback.auth.services import audit, csm_id_for_email
from feedback.auth.sign_in import end_sessions
from feedback.db import is_sqlite, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, NotFound
from feedback.kernel.principal import Role

LAST_ADMIN = "is the last active admin; make another user admin first"


def _columns() -> tuple[Any, ...]:
    """What a staff user is shown as (the page, the API, the CLI)."""
    return (
        StaffUser.id,
        StaffUser.email,
        StaffUser.name,
        StaffUser.role,
        StaffUser.csm.email.as_alias("csm_email"),
        StaffUser.active,
        StaffUser.created_at,
        StaffUser.last_login_at,
    )


async def list_staff_users() -> list[dict[str, Any]]:
    return await StaffUser.select(*_columns()).order_by(StaffUser.email)


async def staff_user_record(user_id: int) -> dict[str, Any]:
    row = await StaffUser.select(*_columns()).where(StaffUser.id == user_id).first()
    if row is None:
        raise NotFound.for_field("user", f"no staff user {user_id}")
    return row


async def find_staff_user(email: str, field: str = "email") -> int:
    row = (
        await StaffUser.select(StaffUser.id).where(StaffUser.email == email.strip().lower()).first()
    )
    if row is None:
        raise NotFound.for_field(field, f"no staff user with email {email!r}")
    return int(row["id"])


async def _lock_active_admins() -> list[int]:
    """The active admins, locked until the transaction ends on PostgreSQL (SQLite's write
    transaction already excludes every other writer): two admins demoting each other at
    once cannot leave none."""
    query = StaffUser.select(StaffUser.id).where(
        (StaffUser.role == Role.admin.value) & (StaffUser.active == True)  # noqa: E712
    )
    if not is_sqlite():
        query = query.lock_rows()
    return [int(row["id"]) for row in await query]


async def _current(user_id: int) -> dict[str, Any]:
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.role, StaffUser.active)
        .where(StaffUser.id == user_id)
        .first()
    )
    if row is None:
        raise NotFound.for_field("user", f"no staff user {user_id}")
    return row


async def set_active(user_id: int, active: bool, actor: str, source: str) -> dict[str, Any]:
    """Deactivating ends the user's sessions and revokes the API tokens they own."""
    async with write_transaction():
        user = await _current(user_id)
        if not active and user["active"] and user["role"] == Role.admin.value:
            admins = await _lock_active_admins()
            if admins == [user_id]:
                raise Conflict.for_field("active", f"{user['email']} {LAST_ADMIN}")
        await StaffUser.update({StaffUser.active: active}).where(StaffUser.id == user_id)
        revoked = 0
        if not active:
            await end_sessions(user_id)
            tokens = (
                await ApiToken.update({ApiToken.revoked_at: utcnow()})
                .where((ApiToken.owner == user_id) & ApiToken.revoked_at.is_null())
                .returning(ApiToken.id)
            )
            revoked = len(tokens)
        action = "staff_user.activate" if active else "staff_user.deactivate"
        detail = {} if active else {"tokens_revoked": revoked}
        await audit(actor, source, action, user["email"], detail)
    return await staff_user_record(user_id)


async def set_role(
    user_id: int, role: Role, csm_email: str | None, actor: str, source: str
) -> dict[str, Any]:
    """A new role applies from the user's next request (each request reads it)."""
    csm_id = await csm_id_for_email(csm_email, role)
    async with write_transaction():
        user = await _current(user_id)
        if user["role"] == Role.admin.value and role is not Role.admin and user["active"]:
            admins = await _lock_active_admins()
            if admins == [user_id]:
                raise Conflict.for_field("role", f"{user['email']} {LAST_ADMIN}")
        await StaffUser.update({StaffUser.role: role.value, StaffUser.csm: csm_id}).where(
            StaffUser.id == user_id
        )
        await audit(
            actor,
            source,
            "staff_user.set_role",
            user["email"],
            {"from": user["role"], "to": role.value, "csm_email": csm_email or None},
        )
    return await staff_user_record(user_id)


async def reset_password(user_id: int, password: str, actor: str, source: str) -> dict[str, Any]:
    """A new password ends every session made with the old one."""
    user = await _current(user_id)
    validate_password(password, email=user["email"])
    password_hash = await hash_password(password)
    async with write_transaction():
        await StaffUser.update({StaffUser.password_hash: password_hash}).where(
            StaffUser.id == user_id
        )
        await end_sessions(user_id)
        # the password itself is never written anywhere but as its hash
        await audit(actor, source, "staff_user.reset_password", user["email"])
    return await staff_user_record(user_id)
