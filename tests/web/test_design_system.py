"""Every staff page shares one frame: the navigation each role may use, a skip link and
landmarks, and error pages in words (JSON stays for the API)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from feedback.accounts.models import Account
from feedback.app import WEB_DIR
from feedback.errors import EXCEPTION_HANDLERS
from feedback.kernel.principal import Role
from feedback.web.formats import register
from tests.support.factories import book
from tests.support.web import as_role, csrf_token

SECTIONS = {
    "/insights": "Insights",
    "/reports/": "Reports",
    "/reports/health": "Health",
    "/reports/churn/segments": "Churn",
    "/reports/trends": "Trends",
    "/reports/themes": "Themes",
    "/ctas/": "CTAs",
}
ADMIN_LINKS = (
    "/admin/surveys",
    "/admin/widget-keys",
    "/admin/health",
    "/admin/cta-rules",
    "/admin/themes",
    "/admin/outbox",
    "/admin/users",
)


def main_nav(page: str) -> str:
    match = re.search(r'<nav class="nav-bar" aria-label="Main">(.*?)</nav>', page, re.S)
    assert match, "no main navigation"
    return match.group(1)


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


@pytest.mark.parametrize("role", [Role.admin, Role.manager, Role.csm, Role.analyst])
async def test_each_role_sees_the_sections_and_only_admins_the_admin_group(
    client: Any, role: Role
) -> None:
    await book()
    await as_role(client, role, "ann@example.com" if role is Role.csm else None)
    page = (await client.get("/", follow_redirects=True)).text
    nav = main_nav(page)
    for href, label in SECTIONS.items():
        assert f'<a href="{href}">{label}</a>' in nav
    for href in ADMIN_LINKS:
        assert (f'href="{href}"' in nav) is (role is Role.admin), href
    # the phone's menu holds the same links and a way to sign out
    menu = page[page.index('<details class="nav-menu">') :]
    assert all(f'href="{href}"' in menu for href in SECTIONS)
    assert page.count('action="/logout"') == 2  # the user menu's and the phone menu's


async def test_the_frame_has_a_skip_link_landmarks_and_marks_the_section(client: Any) -> None:
    await as_role(client, Role.admin)
    page = (await client.get("/ctas/")).text
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page and "<header" in page
    assert re.search(r'<nav class="nav-bar" aria-label="Main">', page)
    current = re.findall(r'<a href="([^"]+)" aria-current="page">', main_nav(page))
    assert current == ["/ctas/"]
    users = (await client.get("/admin/users")).text
    assert '<summary class="current">Admin</summary>' in users
    assert '<a href="/admin/users" aria-current="page">Staff users</a>' in main_nav(users)


async def test_a_signed_out_visitor_is_sent_to_sign_in(client: Any) -> None:
    answer = await client.get("/admin/surveys")
    assert answer.status_code in (302, 303, 307)
    assert answer.headers["location"] == "/login?next=%2Fadmin%2Fsurveys"


async def test_a_csm_on_an_admin_page_gets_a_page_in_words(client: Any) -> None:
    await book()
    await as_role(client, Role.csm, "ann@example.com")
    for path in ("/admin/surveys", "/admin/users", "/admin/outbox"):
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>You cannot open this page</h1>" in answer.text
        assert "ask an admin" in answer.text
        assert "roles: admin" not in answer.text  # the API's wording stays in the API
        main_nav(answer.text)  # the navigation is there: the page knows who is asking


async def test_an_unknown_page_is_a_404_page_while_the_api_keeps_json(client: Any) -> None:
    await as_role(client, Role.analyst)
    for path in ("/reports/nope", "/nope", "/admin/nope/deeper"):
        page = await client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Page not found</h1>" in page.text and 'href="/"' in page.text
    api = await client.get("/api/v1/unknown")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["error"] and api.json()["detail"] == []


async def test_a_missing_thing_on_a_page_names_it(client: Any) -> None:
    await book()
    await as_role(client, Role.admin)
    answer = await client.get("/ctas/999999")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in answer.text


async def test_a_wrong_method_on_a_page_is_a_405_page(client: Any) -> None:
    await as_role(client, Role.admin)
    token = await csrf_token(client, "/")
    answer = await client.put("/login", data={"_csrf_token": token})
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>This page does not take that request</h1>" in answer.text
    assert "GET" in answer.headers["allow"]


async def test_bad_input_on_a_page_is_a_422_page_naming_the_field(client: Any) -> None:
    await as_role(client, Role.admin)
    answer = await client.get("/?status=gone")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Please check <strong>status</strong>: must be active or churned" in answer.text


async def test_an_expired_form_says_to_reload(client: Any) -> None:
    await as_role(client, Role.admin)
    answer = await client.post("/admin/users", data={"_csrf_token": "forged"})
    assert answer.status_code == 403
    assert "reload the page" in answer.text


def crashing_app() -> Litestar:
    """An app with the service's error handlers and templates, and routes that fail."""

    @get("/boom", sync_to_thread=False)
    def page() -> str:
        raise RuntimeError("a bug")

    @get("/api/v1/boom", sync_to_thread=False)
    def api() -> str:
        raise RuntimeError("a bug")

    return Litestar(
        [page, api],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(
            directory=WEB_DIR / "templates", engine=JinjaTemplateEngine, engine_callback=register
        ),
    )


async def test_a_bug_on_a_page_is_a_500_page_and_on_the_api_json() -> None:
    transport = httpx.ASGITransport(app=crashing_app())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/boom")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Something went wrong on our side</h1>" in page.text
        assert "a bug" not in page.text  # nothing of the inside shows
        api = await client.get("/api/v1/boom")
        assert api.status_code == 500
        assert api.json() == {"error": "internal server error", "detail": []}


async def test_the_home_page_writes_money_in_the_accounts_currency(client: Any) -> None:
    await book()
    await Account.update({Account.currency: "EUR"}).where(Account.external_id == "a2")
    await as_role(client, Role.admin)
    page = (await client.get("/")).text
    row = re.compile(r'<tr>\s*<td>.*?<span class="muted">(\w+)</span>.*?</tr>', re.S)
    rows = {m.group(1): text_of(m.group(0)) for m in row.finditer(page)}
    assert "$120,000" in rows["a1"]
    assert "€9,000" in rows["a2"]
    assert '<span class="tag tag-active">active</span>' in page


async def test_the_home_page_says_how_to_fill_an_empty_book(client: Any) -> None:
    await as_role(client, Role.admin)
    page = (await client.get("/")).text
    assert "No accounts yet" in page
    assert "feedback import accounts" in page and "feedback demo" in page


async def test_the_home_page_pages_through_the_book(client: Any) -> None:
    lines = "\n".join(f"x{i:03d},Company {i},free,1000" for i in range(60))
    from tests.support.factories import import_csv

    result = await import_csv("accounts", "external_id,name,plan,arr\n" + lines + "\n")
    assert result.ok, result.errors
    await as_role(client, Role.admin)
    first = (await client.get("/")).text
    assert "x049" in first and "x050" not in first
    assert 'href="/?offset=50" rel="next"' in first
    second = (await client.get("/?offset=50")).text
    assert "x050" in second and "x059" in second and 'rel="next"' not in second
