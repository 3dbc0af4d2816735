"""One-click unsubscribe (RFC 8058): the link in every program mail's `List-Unsubscribe`.

`GET /unsubscribe/{token}` shows a confirmation page with a button (a link scanner that
follows the URL unsubscribes nobody); `POST /unsubscribe/{token}` (the button, or a mail
provider's one-click POST with the body `List-Unsubscribe=One-Click`) puts the address on
the suppression list at once. No sign-in and no CSRF token: the signed token is the
credential. Answers are HTML pages; a bad token is a 404 page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.mail.enqueue import address_of_token, suppress_person, suppression_of
from feedback.mail.models import SuppressionReason

# a one-click POST's body is one short field; anything larger is not one
UNSUBSCRIBE_BODY_LIMIT = 4096


def _page(status: str, address: str | None, token: str, code: int = 200) -> Template:
    return Template(
        "mail/unsubscribe.html",
        status_code=code,
        context={
            "principal": None,
            "hide_sign_in": True,
            "state": status,
            "address": address,
            "token": token,
        },
    )


def _masked(address: str) -> str:
    """The address as the page shows it: enough for its owner to recognise, not a lookup
    service for whoever holds a forwarded link."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}{'•' * max(len(local) - 2, 1)}@{domain}"


class UnsubscribeController(Controller):
    path = "/"
    include_in_schema = False

    @get("/unsubscribe/{token:str}")
    async def confirm(self, token: FromPath[str]) -> Template:
        address = address_of_token(token)
        if address is None:
            return _page("invalid", None, token, 404)
        already = await suppression_of(address) is not None
        return _page("already" if already else "confirm", _masked(address), token)

    @post("/unsubscribe/{token:str}", status_code=200, request_max_body_size=UNSUBSCRIBE_BODY_LIMIT)
    async def unsubscribe(self, token: FromPath[str], request: Request[Any, Any, Any]) -> Template:
        address = address_of_token(token)
        if address is None:
            return _page("invalid", None, token, 404)
        form = await request.form()
        one_click = form.get("List-Unsubscribe") == "One-Click"
        source = "one-click (List-Unsubscribe-Post)" if one_click else "unsubscribe page"
        client = request.client.host if request.client else "unknown"
        async with write_transaction():
            await suppress_person(
                address, SuppressionReason.unsubscribed.value, f"{source} from {client}", utcnow()
            )
        return _page("done", _masked(address), token)
