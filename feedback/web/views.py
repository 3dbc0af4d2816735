"""Staff pages: sign in and out, and the home page with the accounts each role may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from feedback.accounts.services import list_accounts
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.auth.sign_in import SignInLimits, sign_in, sign_out
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.ratelimit import client_address
from feedback.settings import Settings
from feedback.surveys.keys import DEMO_WIDGET_KEY
from feedback.surveys.previews import make_preview_token
from feedback.web.csrf import ANONYMOUS_FORM_LIMIT, CSRF_SESSION_KEY, new_csrf_value

HOME_PAGE_SIZE = 50
MAX_OFFSET = 1_000_000
ACCOUNT_STATUSES = ("", "active", "churned")


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

    @post("/login", status_code=303, request_max_body_size=ANONYMOUS_FORM_LIMIT)
    async def login(
        self,
        request: Request[Any, Any, State],
        data: URLEncodedBody[LoginForm],
    ) -> Template | Redirect:
        settings: Settings = request.app.state["settings"]
        result = await sign_in(
            data.email,
            data.password,
            client_address(request.scope, settings.trusted_proxies),
            request.app.state["rate_limiter"],
            SignInLimits(
                failures_per_account=settings.login_failures_per_account,
                failures_per_address=settings.login_failures_per_ip,
                window_seconds=settings.login_window_minutes * 60,
            ),
        )
        if result.session is None:
            context = {"next": safe_next(data.next), "email": data.email[:320]}
            if result.retry_after is not None:
                minutes = -(-result.retry_after // 60)
                return Template(
                    "login.html",
                    context={
                        **context,
                        "error": (
                            "Too many sign-in attempts for this email or from this address. "
                            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
                        ),
                    },
                    status_code=429,
                    headers={"retry-after": str(result.retry_after)},
                )
            return Template(
                "login.html",
                context={**context, "error": "Wrong email or password."},
                status_code=401,
            )
        # a new CSRF value with the new session: a token seen before sign-in is worth nothing
        request.set_session({**result.session, CSRF_SESSION_KEY: new_csrf_value()})
        return Redirect(path=safe_next(data.next), status_code=303)

    @post("/logout", status_code=303, request_max_body_size=ANONYMOUS_FORM_LIMIT)
    async def logout(self, request: Request[Any, Any, State]) -> Redirect:
        """Ends the session on the server too: the cookie stops working even if kept."""
        await sign_out(request.session)
        request.clear_session()
        return Redirect(path="/login", status_code=303)

    @get("/demo/host")
    async def demo_host(self, request: Request[Any, Any, State]) -> Template:
        """A stand-in for a customer's product page that embeds the widget (demo only)."""
        from feedback.settings import get_settings

        if get_settings().environment == "production":
            raise NotFoundException("the demo host page is off in production")
        base = f"{request.url.scheme}://{request.url.netloc}"
        # "Ask again" reloads the page as a preview, the one way a forced survey is honoured
        # for a visitor whose identity is not signed (the demo key trusts the browser)
        preview, _ = make_preview_token(DEMO_WIDGET_KEY)
        return Template(
            "demo_host.html", context={"key": DEMO_WIDGET_KEY, "base": base, "preview": preview}
        )

    @get("/", dependencies={"principal": Provide(provide_principal)}, **access(*ALL_ROLES))
    async def home(
        self,
        principal: CurrentPrincipal,
        status: FromQuery[str] = "",
        offset: FromQuery[int] = 0,
    ) -> Template | Redirect:
        """CSMs and managers start their day on /today; admins and analysts see the
        accounts they may see, a page at a time (by external id)."""
        if principal.role in (Role.csm, Role.manager):
            return Redirect(path="/today", status_code=303)
        return await accounts_page(principal, status, offset, "/")


async def accounts_page(principal: Principal, status: str, offset: int, path: str) -> Template:
    """The accounts the principal may see, a page at a time (by external id), at `path` (the
    home page, or /accounts/ for those whose home is Today)."""
    status = status.strip().lower()
    if status not in ACCOUNT_STATUSES:
        raise InputError("status", "must be active or churned, or empty for every account")
    if not 0 <= offset <= MAX_OFFSET:
        raise InputError("offset", f"must be from 0 to {MAX_OFFSET}")
    # one more than a page: whether there is a next page, without counting
    rows = await list_accounts(
        principal, status=status or None, limit=HOME_PAGE_SIZE + 1, offset=offset
    )
    accounts = rows[:HOME_PAGE_SIZE]

    def page_href(new_offset: int) -> str:
        query = {"status": status, "offset": str(new_offset) if new_offset else ""}
        return path + "?" + urlencode({k: v for k, v in query.items() if v})

    return Template(
        "home.html",
        context={
            "principal": principal,
            "path": path,
            "accounts": accounts,
            "status": status,
            "offset": offset,
            "previous_href": page_href(max(0, offset - HOME_PAGE_SIZE)) if offset else "",
            "next_href": page_href(offset + HOME_PAGE_SIZE) if len(rows) > HOME_PAGE_SIZE else "",
        },
    )
