"""Signing in to the staff pages as a browser would: CSRF token, form post, roles."""

from __future__ import annotations

import re
from typing import Any

from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.kernel.principal import Role

PASSWORD = "correct horse battery"


async def csrf_token(client: Any, path: str = "/login") -> str:
    page = await client.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def sign_in(client: Any, email: str, password: str = PASSWORD, next: str = "/") -> Any:
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"email": email, "password": password, "next": next, "_csrf_token": token},
    )


async def signed_in_admin(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")


HOSTILE = '<script>alert("x")</script>'


async def as_role(client: Any, role: Role, csm_email: str | None = None) -> None:
    csm_id = await csm_id_for_email(csm_email, role)
    email = f"{role.value}.user@example.com"
    await create_staff_user(email, role, PASSWORD, csm_id=csm_id)
    answer = await sign_in(client, email)
    assert answer.status_code == 303
