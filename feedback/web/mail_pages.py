"""Mail to customers (issue 18): the mail outbox page for admins: what waits, what went,
what failed and why, one mail as the customer sees it, sending a dead mail again, and the
suppression list."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from feedback.auth.guards import CurrentPrincipal, access
from feedback.kernel.errors import DomainError
from feedback.kernel.principal import Principal, Role
from feedback.mail import admin as mail
from feedback.settings import get_settings
from feedback.web.report_views import PageRequest, StaffPages

STATUS_LABELS = {"waiting": "Waiting", "sent": "Sent", "dead": "Dead"}
NOTICES = {
    "retried": "The mail is queued again.",
    "suppressed": "The address gets no more program mail.",
    "unsuppressed": "The address may get program mail again.",
}


class MailPages(StaffPages):
    path = "/"

    @get("/admin/mail", **access(Role.admin))
    async def outbox(
        self,
        principal: CurrentPrincipal,
        status: FromQuery[str] = "waiting",
        done: FromQuery[str | None] = None,
    ) -> Template:
        return await self._outbox(principal, status, notice=NOTICES.get(done or ""))

    async def _outbox(
        self,
        principal: Principal,
        status: str,
        error: DomainError | None = None,
        notice: str | None = None,
        address: str = "",
    ) -> Template:
        if status not in mail.VIEWS:
            status = "waiting"
        settings = get_settings()
        return Template(
            "mail/outbox.html",
            status_code=422 if error else 200,
            context={
                "principal": principal,
                "status": status,
                "statuses": STATUS_LABELS,
                "counts": await mail.mail_counts(),
                "mails": await mail.list_mails(status, limit=200),
                "suppressions": await mail.list_suppressions(),
                "suppressed": await mail.suppression_count(),
                "smtp": settings.mail.smtp.display() if settings.mail.smtp else None,
                "mail_settings": settings.mail,
                "error": error,
                "notice": notice,
                "address": address,
            },
        )

    @get("/admin/mail/{mail_id:int}", **access(Role.admin))
    async def preview(self, principal: CurrentPrincipal, mail_id: FromPath[int]) -> Template:
        found = await mail.get_mail(mail_id)
        return Template(
            "mail/preview.html",
            context={"principal": principal, "mail": found, "from_address": _from()},
        )

    @post("/admin/mail/{mail_id:int}/retry", **access(Role.admin))
    async def retry(
        self, principal: CurrentPrincipal, mail_id: FromPath[int]
    ) -> Redirect | Template:
        try:
            await mail.retry_dead(mail_id, principal.actor)
        except DomainError as exc:
            return await self._outbox(principal, "dead", exc)
        return Redirect(path="/admin/mail", query_params={"done": "retried"}, status_code=303)

    @post("/admin/mail/suppressions", **access(Role.admin))
    async def add_suppression(
        self, principal: CurrentPrincipal, request: PageRequest
    ) -> Redirect | Template:
        form: Any = await request.form()
        address = str(form.get("address") or "")
        try:
            await mail.add_suppression(address, principal.actor)
        except DomainError as exc:
            return await self._outbox(principal, "waiting", exc, address=address)
        return Redirect(path="/admin/mail", query_params={"done": "suppressed"}, status_code=303)

    @post("/admin/mail/suppressions/remove", **access(Role.admin))
    async def remove_suppression(
        self, principal: CurrentPrincipal, request: PageRequest
    ) -> Redirect | Template:
        form: Any = await request.form()
        try:
            await mail.remove_suppression(str(form.get("address") or ""), principal.actor)
        except DomainError as exc:
            return await self._outbox(principal, "waiting", exc)
        return Redirect(path="/admin/mail", query_params={"done": "unsuppressed"}, status_code=303)


def _from() -> str:
    return get_settings().mail.from_address
