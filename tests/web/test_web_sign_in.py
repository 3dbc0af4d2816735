"""Staff sign in to the pages with email and password; forms carry a CSRF token."""

from __future__ import annotations

from typing import Any

from feedback.auth.models import StaffUser
from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import PASSWORD, csrf_token, sign_in


async def test_pages_send_anonymous_visitors_to_sign_in(client: Any) -> None:
    answer = await client.get("/")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=%2F"


async def test_passwords_are_stored_with_argon2id() -> None:
    await create_staff_user("a@example.com", Role.admin, PASSWORD)
    row = await StaffUser.select(StaffUser.password_hash).first()
    assert row["password_hash"].startswith("$argon2id$")


async def test_a_staff_user_signs_in_and_sees_the_accounts(client: Any) -> None:
    await book()
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    answer = await sign_in(client, "Admin@Example.com")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Acme" in home.text and "Initech" in home.text


async def test_a_csm_sees_only_their_accounts_on_the_page(client: Any) -> None:
    await book()
    csm_id = await csm_id_for_email("bob@example.com", Role.csm)
    await create_staff_user("bob.user@example.com", Role.csm, PASSWORD, csm_id=csm_id)
    await sign_in(client, "bob.user@example.com")
    home = await client.get("/")
    assert "Initech" in home.text and "Acme" not in home.text


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: Any,
) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    wrong = await sign_in(client, "admin@example.com", "not the password")
    unknown = await sign_in(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text
    assert (await client.get("/")).status_code == 302


async def test_a_form_without_its_csrf_token_is_refused(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await client.get("/login")
    answer = await client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert answer.status_code == 403


async def test_sign_in_never_redirects_off_site(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    answer = await sign_in(client, "admin@example.com", next="//evil.example.com/")
    assert answer.headers["location"] == "/"


async def test_signing_out_ends_the_session(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    token = await csrf_token(client, "/")
    out = await client.post("/logout", data={"_csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 302


async def test_user_text_is_escaped_in_pages(client: Any) -> None:
    await import_csv("accounts", 'external_id,name\nx1,"<script>alert(1)</script>"\n')
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    home = await client.get("/")
    assert "<script>alert(1)</script>" not in home.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text


async def test_pages_carry_security_headers(client: Any) -> None:
    page = await client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_session_cookie_does_not_authenticate_api_calls(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    # the API is for bearer tokens: a browser session must not be usable cross-site there
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_the_api_docs_page_may_load_swagger_and_nothing_else_may(client: Any) -> None:
    docs = await client.get("/schema")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    api = await client.get("/healthz")
    assert "cdn.jsdelivr.net" not in api.headers["content-security-policy"]
