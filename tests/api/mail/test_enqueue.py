"""Queueing mail: the consent rules checked in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feedback.db import write_transaction
from feedback.mail.enqueue import MailRefusal, enqueue_mail, suppress, suppression_of
from feedback.mail.models import MailMessage
from tests.api.mail.test_mail_delivery import NOW, a_mail, queue


async def test_a_program_mail_is_queued_pending_with_its_message_id() -> None:
    queued = await queue(a_mail())
    row = await MailMessage.select().where(MailMessage.id == queued.mail_id).first()
    assert row["status"] == "pending" and row["to_address"] == "hana.sato@customer.example"
    assert row["message_id"].startswith("<") and row["message_id"].endswith(">")


@pytest.mark.parametrize(
    "address",
    [
        "",
        "hana",
        "hana@",
        "@customer.example",
        "hana@customer",
        "Hana <hana@customer.example>",
        "hana@@customer.example",
        "ha na@customer.example",
        "hana@customer.example\r\nBcc: x@y.z",
        "a,b@customer.example",
        "hana..sato@customer.example",
    ],
)
async def test_an_address_that_is_not_one_is_refused_and_nothing_is_written(address: str) -> None:
    queued = await queue(a_mail(to_address=address))
    assert queued.refused is MailRefusal.invalid_address and queued.mail_id is None
    assert await MailMessage.count() == 0


async def test_a_suppressed_address_gets_no_program_mail_but_a_test_mail_goes() -> None:
    await suppress("HANA.sato@customer.example", "unsubscribed", "test", NOW)
    assert await suppression_of("hana.sato@Customer.example") == "unsubscribed"
    refused = await queue(a_mail())
    assert refused.refused is MailRefusal.suppressed and refused.detail == "unsubscribed"
    test = await queue(a_mail("test:1", kind="test"))
    assert test.refused is None


async def test_one_program_mail_per_address_per_seven_days_across_programs() -> None:
    first = await queue(a_mail("program:1:p:1:s:1", program_id=1))
    assert first.refused is None
    other_program = await queue(
        a_mail("program:2:p:9:s:1", program_id=2), now=NOW + timedelta(days=6, hours=23)
    )
    assert other_program.refused is MailRefusal.throttled
    assert other_program.retry_at == NOW + timedelta(days=7)
    later = await queue(
        a_mail("program:2:p:9:s:1", program_id=2), now=NOW + timedelta(days=7, minutes=1)
    )
    assert later.refused is None
    someone_else = await queue(a_mail("program:2:p:10:s:1", to_address="ken@customer.example"))
    assert someone_else.refused is None


async def test_a_dead_mail_does_not_count_for_the_throttle() -> None:
    first = await queue(a_mail("k1"))
    await MailMessage.update({MailMessage.status: "dead"}).where(MailMessage.id == first.mail_id)
    assert (await queue(a_mail("k2"))).refused is None


async def test_a_key_queued_already_is_a_duplicate_not_a_throttle() -> None:
    assert (await queue(a_mail("k1"))).refused is None
    again = await queue(a_mail("k1"), now=NOW + timedelta(hours=1))
    assert again.refused is MailRefusal.duplicate
    assert await MailMessage.count() == 1


async def test_a_mail_queued_in_a_transaction_that_fails_is_not_there() -> None:
    with pytest.raises(RuntimeError):
        async with write_transaction():
            assert (await enqueue_mail(a_mail(), NOW)).mail_id
            raise RuntimeError("the trigger's change failed")
    assert await MailMessage.count() == 0
