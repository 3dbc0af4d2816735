"""Managing staff users through the API: weak passwords refused, deactivation ends sessions
and revokes the user's tokens, a new role applies at once, password resets, and the last
active admin stays an active admin. Every change is audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from feedback.auth.models import AuditEntry, StaffUser
from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from tests.support.factories import bearer, token
from tests.support.web import PASSWORD, sign_in

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def admin(client: Any) -> dict[str, str]:
    return bearer(await token(Role.admin))


async def staff_id(email: str) -> int:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == email).first()
    return int(row["id"])


def browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver.local"
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("          ", "at least 12 characters"),
        ("aaaaaaaaaa", "at least 12 characters"),
        ("password12", "at least 12 characters"),
        ("            ", "only spaces"),
        ("zzzzzzzzzzzzzzzz", "one character repeated"),
        ("password1234", "most common passwords"),
        ("Password1234", "most common passwords"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_field(
    client: Any, admin: dict[str, str], password: str, message: str
) -> None:
    answer = await client.post(
        "/api/v1/staff-users",
        json={"email": "new@example.com", "role": "analyst", "password": password},
        headers=admin,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == "password"
    assert message in answer.json()["detail"][0]["message"]
    assert await StaffUser.count() == 0


async def test_deactivating_a_user_ends_their_sessions_and_revokes_their_tokens(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    made = await client.post(
        "/api/v1/tokens",
        json={"role": "analyst", "name": "ann's script", "owner_email": "ann@example.com"},
        headers=admin,
    )
    owned = bearer(made.json()["token"])
    async with browser(app) as ann:
        await sign_in(ann, "ann@example.com")
        assert (await ann.get("/")).status_code == 200
        answer = await client.post(
            f"/api/v1/staff-users/{await staff_id('ann@example.com')}/deactivate", headers=admin
        )
        assert answer.status_code == 200 and answer.json()["active"] is False
        assert (await ann.get("/")).status_code == 302
        assert (await sign_in(ann, "ann@example.com")).status_code == 401
    assert (await client.get("/api/v1/me", headers=owned)).status_code == 401
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 200
    entry = await AuditEntry.select().where(AuditEntry.action == "staff_user.deactivate").first()
    assert entry["target"] == "ann@example.com"


async def test_an_activated_user_signs_in_again(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    user_id = await staff_id("ann@example.com")
    await client.post(f"/api/v1/staff-users/{user_id}/deactivate", headers=admin)
    answer = await client.post(f"/api/v1/staff-users/{user_id}/activate", headers=admin)
    assert answer.status_code == 200 and answer.json()["active"] is True
    async with browser(app) as ann:
        assert (await sign_in(ann, "ann@example.com")).status_code == 303


async def test_a_new_role_applies_from_the_next_request(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    async with browser(app) as ann:
        await sign_in(ann, "ann@example.com")
        assert (await ann.get("/admin/users")).status_code == 403
        answer = await client.put(
            f"/api/v1/staff-users/{await staff_id('ann@example.com')}/role",
            json={"role": "admin"},
            headers=admin,
        )
        assert answer.status_code == 200 and answer.json()["role"] == "admin"
        assert (await ann.get("/admin/users")).status_code == 200
    entry = (
        await AuditEntry.select()
        .where(AuditEntry.action == "staff_user.set_role")
        .output(load_json=True)
        .first()
    )
    assert entry["detail"] == {"from": "analyst", "to": "admin", "csm_email": None}


async def test_a_csm_role_needs_its_csm(client: Any, admin: dict[str, str]) -> None:
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    answer = await client.put(
        f"/api/v1/staff-users/{await staff_id('ann@example.com')}/role",
        json={"role": "csm"},
        headers=admin,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "csm_email"


async def test_a_password_reset_ends_sessions_and_the_new_password_works(
    app: Any, client: Any, admin: dict[str, str]
) -> None:
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    user_id = await staff_id("ann@example.com")
    async with browser(app) as ann:
        await sign_in(ann, "ann@example.com")
        weak = await client.put(
            f"/api/v1/staff-users/{user_id}/password",
            json={"password": "aaaaaaaaaa"},
            headers=admin,
        )
        assert weak.status_code == 422 and weak.json()["detail"][0]["field"] == "password"
        assert (await ann.get("/")).status_code == 200
        answer = await client.put(
            f"/api/v1/staff-users/{user_id}/password",
            json={"password": NEW_PASSWORD},
            headers=admin,
        )
        assert answer.status_code == 200
        assert (await ann.get("/")).status_code == 302
        assert (await sign_in(ann, "ann@example.com")).status_code == 401
        assert (await sign_in(ann, "ann@example.com", NEW_PASSWORD)).status_code == 303
    rows = await AuditEntry.select().where(AuditEntry.action == "staff_user.reset_password")
    assert len(rows) == 1 and NEW_PASSWORD not in str(rows[0])


async def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(
    client: Any, admin: dict[str, str]
) -> None:
    await create_staff_user("boss@example.com", Role.admin, PASSWORD)
    boss = await staff_id("boss@example.com")
    off = await client.post(f"/api/v1/staff-users/{boss}/deactivate", headers=admin)
    assert off.status_code == 409
    assert off.json()["detail"][0]["field"] == "active"
    assert "last active admin" in off.json()["detail"][0]["message"]
    down = await client.put(
        f"/api/v1/staff-users/{boss}/role", json={"role": "manager"}, headers=admin
    )
    assert down.status_code == 409 and down.json()["detail"][0]["field"] == "role"
    await create_staff_user("second@example.com", Role.admin, PASSWORD)
    second = await staff_id("second@example.com")
    await client.post(f"/api/v1/staff-users/{second}/deactivate", headers=admin)
    assert (
        await client.post(f"/api/v1/staff-users/{boss}/deactivate", headers=admin)
    ).status_code == 409
    await client.post(f"/api/v1/staff-users/{second}/activate", headers=admin)
    assert (
        await client.post(f"/api/v1/staff-users/{boss}/deactivate", headers=admin)
    ).status_code == 200


async def test_an_unknown_staff_user_is_404(client: Any, admin: dict[str, str]) -> None:
    answer = await client.post("/api/v1/staff-users/987654/deactivate", headers=admin)
    assert answer.status_code == 404


@pytest.mark.parametrize("role", [Role.manager, Role.csm, Role.analyst])
async def test_only_admins_manage_staff_users(client: Any, role: Role) -> None:
    from tests.support.factories import book

    await book()
    value = await token(role, "ann@example.com" if role is Role.csm else None)
    await create_staff_user("x@example.com", Role.analyst, PASSWORD)
    user_id = await staff_id("x@example.com")
    calls = [
        ("POST", f"/api/v1/staff-users/{user_id}/deactivate", None),
        ("POST", f"/api/v1/staff-users/{user_id}/activate", None),
        ("PUT", f"/api/v1/staff-users/{user_id}/role", {"role": "admin"}),
        ("PUT", f"/api/v1/staff-users/{user_id}/password", {"password": NEW_PASSWORD}),
    ]
    for method, path, body in calls:
        answer = await client.request(method, path, json=body, headers=bearer(value))
        assert answer.status_code == 403, path
        assert (await client.request(method, path, json=body)).status_code == 401


async def test_two_admins_demoting_each_other_at_once_leave_one_admin() -> None:
    import asyncio

    from feedback.auth import staff_users
    from feedback.kernel.errors import Conflict

    await create_staff_user("one@example.com", Role.admin, PASSWORD)
    await create_staff_user("two@example.com", Role.admin, PASSWORD)
    one, two = await staff_id("one@example.com"), await staff_id("two@example.com")
    results = await asyncio.gather(
        staff_users.set_role(one, Role.analyst, None, "two@example.com", "web"),
        staff_users.set_role(two, Role.analyst, None, "one@example.com", "web"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    admins = await StaffUser.count().where(StaffUser.role == "admin")
    assert admins == 1


async def test_a_token_for_an_unknown_owner_is_refused_naming_the_field(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/tokens",
        json={"role": "analyst", "owner_email": "ghost@example.com"},
        headers=admin,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "owner_email"
