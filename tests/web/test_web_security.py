"""Sessions end for real, CSRF tokens belong to one session, HSTS in production, and the API
documentation is served from the service itself (and can be kept for staff only)."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from feedback.app import create_app
from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from feedback.settings import get_settings
from tests.support.factories import bearer, token
from tests.support.web import PASSWORD, csrf_token, sign_in


def browser(app: Any, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    """Another browser on the same application (tests that use one also take `client`,
    which starts the sign-in counters afresh)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver.local",
        cookies=cookies,
    )


async def test_a_saved_session_cookie_stops_working_after_sign_out(app: Any, client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(app) as laptop:
        await sign_in(laptop, "admin@example.com")
        saved = httpx.Cookies(laptop.cookies)
        assert (await laptop.get("/")).status_code == 200
        out = await laptop.post("/logout", data={"_csrf_token": await csrf_token(laptop, "/")})
        assert out.status_code == 303
    async with browser(app, saved) as thief:
        answer = await thief.get("/")
        assert answer.status_code == 302 and answer.headers["location"].startswith("/login")


async def test_a_csrf_token_from_another_browser_is_refused(app: Any, client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(app) as attacker, browser(app) as victim:
        stolen = await csrf_token(attacker)
        await victim.get("/login")
        # the attacker's whole pair: their token, and their CSRF cookie if there is one
        if "csrftoken" in attacker.cookies:
            victim.cookies.set("csrftoken", attacker.cookies["csrftoken"])
        form = {"email": "admin@example.com", "password": PASSWORD, "_csrf_token": stolen}
        assert (await victim.post("/login", data=form)).status_code == 403
        assert (await sign_in(victim, "admin@example.com")).status_code == 303


async def test_a_token_from_before_sign_in_is_worth_nothing_after(app: Any, client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(app) as visitor:
        before = await csrf_token(visitor)
        await visitor.post(
            "/login",
            data={"email": "admin@example.com", "password": PASSWORD, "_csrf_token": before},
        )
        assert (await visitor.post("/logout", data={"_csrf_token": before})).status_code == 403
        assert (await visitor.get("/")).status_code == 200


async def test_hsts_is_sent_in_production_only(client: Any) -> None:
    production = create_app(dataclasses.replace(get_settings(), environment="production"))
    async with browser(production) as visitor:
        page = await visitor.get("/login")
    assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" not in (await client.get("/login")).headers


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.urls.append(str(found["src"]))
            else:
                self.inline_scripts += 1
        if tag == "link" and found.get("href") and "stylesheet" in str(found.get("rel")):
            self.urls.append(str(found["href"]))


async def test_the_api_docs_load_only_this_services_own_files(client: Any) -> None:
    docs = await client.get("/schema")
    assert docs.status_code == 200
    page = Assets()
    page.feed(docs.text)
    assert page.urls and page.inline_scripts == 0
    for url in page.urls:
        assert not url.startswith(("http://", "https://", "//")), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
    policy = docs.headers["content-security-policy"]
    assert "http" not in policy and "script-src 'self';" in policy
    assert (await client.get("/schema/openapi.json")).json()["info"]["title"] == "Feedback API"
    assert (await client.get("/schema/assets/index.html")).status_code == 404


async def test_private_api_docs_are_hidden_from_strangers(client: Any) -> None:
    private = create_app(dataclasses.replace(get_settings(), public_api_docs=False))
    await create_staff_user("analyst@example.com", Role.analyst, PASSWORD)
    analyst_token = await token(Role.analyst)
    paths = ["/schema", "/schema/openapi.json", "/schema/assets/swagger-ui-bundle.js"]
    async with browser(private) as stranger:
        for path in paths:
            assert (await stranger.get(path)).status_code == 404, path
        for path in paths:
            with_token = await stranger.get(path, headers=bearer(analyst_token))
            assert with_token.status_code == 200, path
    async with browser(private) as staff:
        await sign_in(staff, "analyst@example.com")
        for path in paths:
            assert (await staff.get(path)).status_code == 200, path
    # the default stays public
    assert (await client.get("/schema/openapi.json")).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/login"])
async def test_no_page_names_another_origin_in_its_policy(client: Any, path: str) -> None:
    assert "http" not in (await client.get(path)).headers["content-security-policy"]


async def test_pages_no_route_answers_still_carry_the_security_headers(client: Any) -> None:
    """The router answers an unknown path or method before any middleware runs; the headers
    are added by a before_send hook, which sees every response."""
    for answer in (await client.get("/no-such-page"), await client.delete("/login")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert answer.headers["x-frame-options"] == "DENY"
