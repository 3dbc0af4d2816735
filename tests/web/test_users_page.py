"""The admin page for staff users: reached from the navigation, each change made there is
checked like everywhere else and shown back in plain words."""

from __future__ import annotations

from typing import Any

from feedback.auth.models import AuditEntry, StaffUser
from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from tests.support.web import PASSWORD, csrf_token, signed_in_admin


async def user_id(email: str) -> int:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == email).first()
    return int(row["id"])


async def post_form(client: Any, path: str, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/users")
    return await client.post(path, data={**data, "_csrf_token": token})


async def test_admins_reach_the_page_from_the_navigation(client: Any) -> None:
    await signed_in_admin(client)
    home = await client.get("/")
    assert 'href="/admin/users"' in home.text
    page = await client.get("/admin/users")
    assert page.status_code == 200 and "admin@example.com" in page.text


async def test_a_weak_password_is_refused_on_the_page_naming_the_field(client: Any) -> None:
    await signed_in_admin(client)
    answer = await post_form(
        client,
        "/admin/users",
        {"email": "new@example.com", "role": "analyst", "password": "aaaaaaaaaaaa"},
    )
    assert answer.status_code == 422
    assert "password</strong>: must not be one character repeated" in answer.text
    assert 'value="new@example.com"' in answer.text  # what was typed is kept
    assert await StaffUser.count() == 1


async def test_an_admin_creates_deactivates_and_reactivates_a_user(client: Any) -> None:
    await signed_in_admin(client)
    made = await post_form(
        client,
        "/admin/users",
        {"email": "new@example.com", "role": "analyst", "password": "a sound passphrase"},
    )
    assert made.status_code == 303
    assert "Staff user created." in (await client.get(made.headers["location"])).text
    new = await user_id("new@example.com")
    off = await post_form(client, f"/admin/users/{new}/active", {"active": "false"})
    assert off.status_code == 303
    page = await client.get(off.headers["location"])
    assert "their sessions ended and their API tokens were revoked" in page.text
    on = await post_form(client, f"/admin/users/{new}/active", {"active": "true"})
    assert on.status_code == 303
    actions = {r["action"] for r in await AuditEntry.select(AuditEntry.action)}
    assert {"staff_user.create", "staff_user.deactivate", "staff_user.activate"} <= actions


async def test_the_page_says_why_the_last_admin_stays(client: Any) -> None:
    await signed_in_admin(client)
    me = await user_id("admin@example.com")
    answer = await post_form(client, f"/admin/users/{me}/role", {"role": "analyst"})
    assert answer.status_code == 409
    assert "is the last active admin" in answer.text
    answer = await post_form(client, f"/admin/users/{me}/active", {"active": "false"})
    assert answer.status_code == 409


async def test_an_admin_resets_a_password_and_sets_a_role(client: Any) -> None:
    await signed_in_admin(client)
    await create_staff_user("ann@example.com", Role.analyst, PASSWORD)
    ann = await user_id("ann@example.com")
    reset = await post_form(
        client, f"/admin/users/{ann}/password", {"password": "another passphrase"}
    )
    assert reset.status_code == 303
    role = await post_form(client, f"/admin/users/{ann}/role", {"role": "manager"})
    assert role.status_code == 303
    row = await StaffUser.select(StaffUser.role).where(StaffUser.id == ann).first()
    assert row["role"] == "manager"


async def test_notices_come_only_from_a_fixed_set(client: Any) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/users?done=Call+us+at+555")
    assert "Call us" not in page.text


async def test_a_csm_becomes_a_manager_from_the_page(client: Any) -> None:
    from tests.support.factories import book

    await book()
    await signed_in_admin(client)
    made = await post_form(
        client,
        "/admin/users",
        {
            "email": "bob.user@example.com",
            "role": "csm",
            "csm_email": "bob@example.com",
            "password": "bob's passphrase",
        },
    )
    assert made.status_code == 303
    bob = await user_id("bob.user@example.com")
    changed = await post_form(
        client, f"/admin/users/{bob}/role", {"role": "manager", "csm_email": "bob@example.com"}
    )
    assert changed.status_code == 303
    row = await StaffUser.select(StaffUser.role, StaffUser.csm).where(StaffUser.id == bob).first()
    assert row == {"role": "manager", "csm": None}
