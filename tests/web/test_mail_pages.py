"""The mail outbox page: admins see what waits, went and failed, preview a mail, send a dead
one again and keep the suppression list."""

from __future__ import annotations

import re
from typing import Any

from feedback.kernel.principal import Role
from feedback.mail.enqueue import suppression_of
from feedback.mail.models import MailMessage
from tests.api.mail.test_mail_delivery import a_mail, queue
from tests.support.web import HOSTILE, as_role, csrf_token, signed_in_admin


async def test_without_smtp_the_page_shows_mails_waiting_and_says_what_to_set(client: Any) -> None:
    await queue(a_mail(subject="Welcome aboard"))
    await signed_in_admin(client)
    page = await client.get("/admin/mail")
    assert page.status_code == 200
    assert "SMTP is not configured" in page.text and "FEEDBACK_SMTP_URL" in page.text
    assert "Welcome aboard" in page.text and "hana.sato@customer.example" in page.text
    assert "when SMTP is set" in page.text


async def test_a_preview_shows_both_parts_with_the_html_sandboxed(client: Any) -> None:
    queued = await queue(a_mail(subject="Hello", html=f"<p>Hi</p>{HOSTILE}"))
    await signed_in_admin(client)
    page = await client.get(f"/admin/mail/{queued.mail_id}")
    assert page.status_code == 200
    assert "お話しできますか?" in page.text  # the text part
    assert re.search(r"<iframe [^>]*sandbox srcdoc=\"&lt;p&gt;Hi", page.text)
    assert HOSTILE not in page.text  # escaped everywhere
    assert (await client.get("/admin/mail/999999")).status_code == 404


async def test_an_admin_sends_a_dead_mail_again(client: Any) -> None:
    queued = await queue(a_mail())
    await MailMessage.update(
        {MailMessage.status: "dead", MailMessage.last_error: "550 5.7.1 relay refused"}
    ).where(MailMessage.id == queued.mail_id)
    await signed_in_admin(client)
    dead = await client.get("/admin/mail?status=dead")
    assert "550 5.7.1 relay refused" in dead.text and "Send again" in dead.text
    token = await csrf_token(client, "/admin/mail")
    answer = await client.post(f"/admin/mail/{queued.mail_id}/retry", data={"_csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/mail?done=retried"
    row = (
        await MailMessage.select(MailMessage.status).where(MailMessage.id == queued.mail_id).first()
    )
    assert row["status"] == "pending"
    again = await client.post(f"/admin/mail/{queued.mail_id}/retry", data={"_csrf_token": token})
    assert again.status_code == 422 and "only a dead mail can be sent again" in again.text


async def test_an_admin_adds_and_removes_a_suppressed_address(client: Any) -> None:
    await signed_in_admin(client)
    token = await csrf_token(client, "/admin/mail")
    added = await client.post(
        "/admin/mail/suppressions", data={"_csrf_token": token, "address": " Ken@Customer.example"}
    )
    assert added.status_code == 303
    assert await suppression_of("ken@customer.example") == "imported"
    page = await client.get("/admin/mail?done=suppressed")
    assert "ken@customer.example" in page.text and "added by admin@example.com" in page.text
    bad = await client.post(
        "/admin/mail/suppressions", data={"_csrf_token": token, "address": "not an address"}
    )
    assert bad.status_code == 422 and "enter one email address" in bad.text
    assert 'aria-invalid="true"' in bad.text
    removed = await client.post(
        "/admin/mail/suppressions/remove",
        data={"_csrf_token": token, "address": "ken@customer.example"},
    )
    assert removed.status_code == 303
    assert await suppression_of("ken@customer.example") is None


async def test_the_mail_outbox_is_for_admins_only(client: Any) -> None:
    await as_role(client, Role.manager)
    assert (await client.get("/admin/mail")).status_code == 403
