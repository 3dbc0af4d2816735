"""API tokens, creating staff users, roles and the audit log (passwords: `passwords.py`)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.auth.models import ApiToken, AuditEntry, StaffUser
from feedback.auth.passwords import hash_password, validate_password
from feedback.imports.parsing import CellError, parse_email
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role

TOKEN_PREFIX = "fbk_"  # noqa: S105 - a marker, not a secret
# writing last_used_at on every request would turn each read into a write
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_role(value: str, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InputError(field, f"must be one of {choices}, got {value!r}") from None


async def csm_id_for_email(email: str | None, role: Role, field: str = "csm_email") -> int | None:
    """A csm-role user or token is bound to one CSM; other roles are bound to none."""
    if role is not Role.csm:
        if email:
            raise InputError(field, "only the csm role is bound to a CSM")
        return None
    if not email:
        raise InputError(field, "the csm role needs the email of the CSM whose accounts it sees")
    row = await CSM.select(CSM.id).where(CSM.email == email.strip().lower()).first()
    if row is None:
        raise InputError(field, f"no CSM with email {email!r}")
    return int(row["id"])


async def create_token(
    role: Role,
    name: str,
    created_by: str,
    csm_id: int | None = None,
    owner_id: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create a token; the plaintext is returned once and only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        token_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        role=role.value,
        csm=csm_id,
        created_by=created_by,
        owner=owner_id,
    )
    await row.save()
    return token, {"id": row.id, "name": name, "role": role.value, "prefix": row.prefix}


async def authenticate_token(token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await ApiToken.select(
            ApiToken.id, ApiToken.role, ApiToken.csm, ApiToken.prefix, ApiToken.last_used_at
        )
        .where((ApiToken.token_hash == hash_token(token)) & ApiToken.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    now = utcnow()
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return Principal(
        role=Role(row["role"]),
        actor=f"token:{row['prefix']}",
        source="api",
        csm_id=row["csm"],
        token_id=row["id"],
    )


async def revoke_token(token_id: int) -> bool:
    updated = (
        await ApiToken.update({ApiToken.revoked_at: utcnow()})
        .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null())
        .returning(ApiToken.id)
    )
    return bool(updated)


async def list_tokens() -> list[dict[str, Any]]:
    return await ApiToken.select(
        ApiToken.id,
        ApiToken.name,
        ApiToken.prefix,
        ApiToken.role,
        ApiToken.csm.email.as_alias("csm_email"),
        ApiToken.created_by,
        ApiToken.owner.email.as_alias("owner_email"),
        ApiToken.created_at,
        ApiToken.last_used_at,
        ApiToken.revoked_at,
    ).order_by(ApiToken.id)


def validate_email(value: str, field: str = "email") -> str:
    try:
        return parse_email(value)
    except CellError as exc:
        raise InputError(field, str(exc)) from None


async def create_staff_user(
    email: str, role: Role, password: str, name: str = "", csm_id: int | None = None
) -> dict[str, Any]:
    email = validate_email(email)
    validate_password(password, email=email)
    if await StaffUser.exists().where(StaffUser.email == email):
        raise InputError("email", f"a staff user with email {email!r} already exists")
    password_hash = await hash_password(password)
    user = StaffUser(
        email=email, name=name, role=role.value, password_hash=password_hash, csm=csm_id
    )
    await user.save()
    return {"id": user.id, "email": email, "name": name, "role": role.value}


def principal_for_staff_row(row: dict[str, Any]) -> Principal:
    return Principal(
        role=Role(row["role"]),
        actor=row["email"],
        source="web",
        csm_id=row["csm"],
        staff_user_id=row["id"],
    )


async def audit(
    actor: str, source: str, action: str, target: str = "", detail: dict[str, Any] | None = None
) -> None:
    await AuditEntry(
        actor=actor, source=source, action=action, target=target, detail=detail or {}
    ).save()
