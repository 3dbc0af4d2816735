"""Staff pages: sign in and out, and the home page with the accounts each role may see."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from feedback.accounts.services import list_accounts
from feedback.auth.guards import (
    ALL_ROLES,
    SESSION_USER_KEY,
    CurrentPrincipal,
    access,
    provide_principal,
)
from feedback.auth.services import audit, authenticate_password
from feedback.surveys.keys import DEMO_WIDGET_KEY


class LoginForm(msgspec.Struct):
    email: str = ""
    password: str = ""
    next: str = "/"


def safe_next(target: str) -> str:
    """Only local paths: an open redirect after sign-in would help phishing."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class PageController(Controller):
    include_in_schema = False

    @get("/login")
    async def login_page(self, next: FromQuery[str] = "/") -> Template:
        return Template("login.html", context={"next": safe_next(next), "error": None})

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, State],
        data: URLEncodedBody[LoginForm],
    ) -> Template | Redirect:
        principal = await authenticate_password(data.email[:320], data.password[:1000])
        if principal is None:
            return Template(
                "login.html",
                context={
                    "next": safe_next(data.next),
                    "error": "Wrong email or password.",
                    "email": data.email[:320],
                },
                status_code=401,
            )
        request.set_session({SESSION_USER_KEY: principal.staff_user_id})
        await audit(principal.actor, "web", "staff_user.sign_in")
        return Redirect(path=safe_next(data.next), status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, State]) -> Redirect:
        request.clear_session()
        return Redirect(path="/login", status_code=303)

    @get("/demo/host")
    async def demo_host(self, request: Request[Any, Any, State]) -> Template:
        """A stand-in for a customer's product page that embeds the widget (demo only)."""
        from feedback.settings import get_settings

        if get_settings().environment == "production":
            raise NotFoundException("the demo host page is off in production")
        base = f"{request.url.scheme}://{request.url.netloc}"
        return Template("demo_host.html", context={"key": DEMO_WIDGET_KEY, "base": base})

    @get("/", dependencies={"principal": Provide(provide_principal)}, **access(*ALL_ROLES))
    async def home(self, principal: CurrentPrincipal) -> Template:
        accounts = await list_accounts(principal, limit=200)
        return Template("home.html", context={"principal": principal, "accounts": accounts})
