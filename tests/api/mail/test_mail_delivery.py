"""Mail through a real SMTP server on loopback (aiosmtpd): what arrives, and how each reply
of the server is booked."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from feedback.db import write_transaction
from feedback.mail.delivery import MailDeliverer, SendRecorder
from feedback.mail.enqueue import NewMail, Queued, enqueue_mail, suppress, suppression_of
from feedback.mail.models import MailMessage
from feedback.settings import Settings, SmtpURL
from tests.api.mail.receiver import Receiver, self_signed_tls
from tests.support.processes import free_port

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def a_mail(key: str = "program:1:participant:1:step:1", **fields: object) -> NewMail:
    values: dict[str, object] = {
        "key": key,
        "to_address": "Hana.Sato@Customer.example",
        "to_name": "佐藤 花",
        "from_name": "Alex Kim",
        "reply_to": "alex@vendor.example",
        "subject": "ご意見ありがとうございます",
        "text": "佐藤様\n\nお話しできますか? https://cal.example/alex\n",
        "html": "<p>佐藤様</p><p><a href='https://cal.example/alex'>予約</a></p>",
        "program_id": 1,
        "participant_id": 1,
        "locale": "ja",
    }
    values.update(fields)
    return NewMail(**values)  # type: ignore[arg-type]


async def queue(mail: NewMail, now: datetime = NOW) -> Queued:
    async with write_transaction():
        return await enqueue_mail(mail, now)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def status_of(mail_id: int | None) -> dict[str, object]:
    row = await MailMessage.select().where(MailMessage.id == mail_id).first()
    assert row is not None
    return row


async def test_a_program_mail_arrives_as_the_csm_with_both_parts_and_one_click_unsubscribe(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    queued = await queue(a_mail())
    assert queued.refused is None and queued.mail_id
    outcome = await MailDeliverer(smtp_settings, clock=Clock()).deliver_once()
    assert (outcome.sent, outcome.retried, outcome.dead) == (1, 0, 0)
    [received] = receiver.recorder.received
    assert received.mail_from == "nps@feedback.example"
    assert received.rcpt_tos == ["hana.sato@customer.example"]
    message = received.message
    assert message["From"].addresses[0].display_name == "Alex Kim"
    assert message["From"].addresses[0].addr_spec == "nps@feedback.example"
    assert message["Reply-To"].addresses[0].addr_spec == "alex@vendor.example"
    assert message["To"].addresses[0].display_name == "佐藤 花"
    assert str(message["Subject"]) == "ご意見ありがとうございます"
    assert message["Date"].datetime == NOW
    assert str(message["Message-ID"]).endswith("@feedback.example>")
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://feedback.example/unsubscribe/")
    assert "<mailto:nps@feedback.example?subject=unsubscribe>" in unsubscribe
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "お話しできますか? https://cal.example/alex" in text.get_content()
    assert "<a href='https://cal.example/alex'>予約</a>" in html.get_content()
    row = await status_of(queued.mail_id)
    assert (row["status"], row["attempts"], row["message_id"]) == (
        "sent",
        1,
        str(message["Message-ID"]),
    )


async def test_a_test_mail_has_no_unsubscribe_headers(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    await queue(a_mail(kind="test", to_address="alex@vendor.example", program_id=None))
    await MailDeliverer(smtp_settings, clock=Clock()).deliver_once()
    [received] = receiver.recorder.received
    assert received.message["List-Unsubscribe"] is None


async def test_a_mail_to_an_address_suppressed_after_it_was_queued_is_not_sent(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    queued = await queue(a_mail())
    assert await suppress("hana.sato@customer.example", "unsubscribed", "test", NOW)
    outcome = await MailDeliverer(smtp_settings, clock=Clock()).deliver_once()
    assert (outcome.sent, outcome.dead) == (0, 1)
    assert receiver.recorder.received == []
    row = await status_of(queued.mail_id)
    assert row["status"] == "dead" and "suppressed (unsubscribed)" in str(row["last_error"])


async def test_4xx_replies_retry_with_backoff_until_the_server_accepts(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    receiver.recorder.temporary_failures = 2
    queued = await queue(a_mail())
    clock = Clock()
    sender = MailDeliverer(smtp_settings, clock=clock, backoff_seconds=60)
    assert (await sender.deliver_once()).retried == 1
    first = await status_of(queued.mail_id)
    assert first["status"] == "pending" and str(first["last_error"]).startswith("451")
    assert (await sender.deliver_once()).retried == 0  # not due yet
    clock.now += timedelta(minutes=2)
    assert (await sender.deliver_once()).retried == 1
    second = await status_of(queued.mail_id)
    # the backoff doubled: about 120 s (with jitter) after the second failure
    delay = second["next_attempt_at"] - clock.now
    assert timedelta(seconds=90) <= delay <= timedelta(seconds=150)
    clock.now += timedelta(minutes=3)
    assert (await sender.deliver_once()).sent == 1
    row = await status_of(queued.mail_id)
    assert (row["status"], row["attempts"], row["failing_since"]) == ("sent", 3, None)
    assert len(receiver.recorder.received) == 1


async def test_a_mail_failing_past_the_retry_horizon_is_dead(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    receiver.recorder.temporary_failures = 1000
    queued = await queue(a_mail())
    clock = Clock()
    sender = MailDeliverer(smtp_settings, clock=clock, max_backoff_seconds=600)
    await sender.deliver_once()
    clock.now += timedelta(hours=smtp_settings.mail.retry_hours, minutes=1)
    assert (await sender.deliver_once()).dead == 1
    row = await status_of(queued.mail_id)
    assert row["status"] == "dead" and "failing for over 24 h: 451" in str(row["last_error"])


async def test_a_550_is_dead_at_once_and_suppresses_the_address_as_a_hard_bounce(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    receiver.recorder.unknown = {"gone@customer.example"}
    bounced = await queue(a_mail("k1", to_address="gone@customer.example"))
    fine = await queue(a_mail("k2", to_address="here@customer.example"))
    outcome = await MailDeliverer(smtp_settings, clock=Clock()).deliver_once()
    assert (outcome.sent, outcome.dead) == (1, 1)
    row = await status_of(bounced.mail_id)
    assert row["status"] == "dead" and str(row["last_error"]).startswith("550 5.1.1")
    assert await suppression_of("gone@customer.example") == "hard_bounce"
    assert (await status_of(fine.mail_id))["status"] == "sent"
    assert [r.rcpt_tos for r in receiver.recorder.received] == [["here@customer.example"]]


async def test_a_refused_connection_retries_later(smtp_settings: Settings) -> None:
    nowhere = SmtpURL("smtp", "127.0.0.1", free_port())
    settings = replace(smtp_settings, mail=replace(smtp_settings.mail, smtp=nowhere))
    queued = await queue(a_mail())
    outcome = await MailDeliverer(settings, clock=Clock()).deliver_once()
    assert outcome.retried == 1
    row = await status_of(queued.mail_id)
    assert row["status"] == "pending" and row["failing_since"] == NOW
    assert "Connect" in str(row["last_error"])


async def test_without_smtp_mails_wait_pending(receiver: Receiver) -> None:
    from feedback.settings import get_settings

    queued = await queue(a_mail())
    assert get_settings().mail.smtp is None
    outcome = await MailDeliverer(get_settings(), clock=Clock()).deliver_once()
    assert outcome.sent == 0
    assert (await status_of(queued.mail_id))["status"] == "pending"


async def test_two_deliverers_racing_send_every_mail_once(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    for n in range(60):
        await queue(a_mail(f"k{n}", to_address=f"p{n}@customer.example"))
    first = MailDeliverer(smtp_settings, worker_id="one", batch_size=7, clock=Clock())
    second = MailDeliverer(smtp_settings, worker_id="two", batch_size=7, clock=Clock())
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    ids = receiver.recorder.message_ids()
    assert len(ids) == 60 and len(set(ids)) == 60
    assert first.totals.sent + second.totals.sent == 60
    assert first.totals.sent and second.totals.sent  # both took part


async def test_starttls_is_used_when_the_server_offers_it(
    smtp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, client_tls = self_signed_tls()
    tls_receiver = Receiver(tls=server_tls).start()
    try:
        url = SmtpURL("smtp", "127.0.0.1", tls_receiver.port)
        settings = replace(smtp_settings, mail=replace(smtp_settings.mail, smtp=url))
        await queue(a_mail())
        sender = MailDeliverer(settings, clock=Clock(), tls_context=client_tls)
        assert (await sender.deliver_once()).sent == 1
        assert tls_receiver.recorder.tls_sessions == 1
        # a client that does not trust the certificate refuses to send in clear: retried
        await queue(a_mail("k2", to_address="ken@customer.example"))
        untrusting = MailDeliverer(settings, clock=Clock())
        outcome = await untrusting.deliver_once()
        assert (outcome.sent, outcome.retried) == (0, 1)
        assert len(tls_receiver.recorder.received) == 1
    finally:
        tls_receiver.stop()


async def test_a_worker_near_the_end_of_its_lease_gives_the_rest_of_its_batch_back(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    for n in range(3):
        await queue(a_mail(f"k{n}", to_address=f"p{n}@customer.example"))
    times = iter([NOW, NOW, NOW, NOW + timedelta(seconds=50)])
    clock = Clock()

    def ticking() -> datetime:  # the first send took 50 s of the 60 s lease
        clock.now = next(times, clock.now)
        return clock.now

    outcome = await MailDeliverer(smtp_settings, clock=ticking).deliver_once()
    assert (outcome.sent, outcome.released) == (1, 2)
    rows = await MailMessage.select(MailMessage.status, MailMessage.attempts).order_by(
        MailMessage.id
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("sent", 1),
        ("pending", 0),
        ("pending", 0),
    ]


async def test_sends_are_recorded_in_groups_each_with_its_own_time(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    for n in range(23):
        await queue(a_mail(f"k{n}", to_address=f"p{n}@customer.example"))
    clock = Clock()
    sender = MailDeliverer(smtp_settings, clock=clock, record_group=5, most_unrecorded=10)
    outcome = await sender.deliver_once()
    assert outcome.sent == 23 and len(receiver.recorder.received) == 23
    rows = await MailMessage.select().order_by(MailMessage.id)
    assert {(r["status"], r["attempts"], r["claimed_until"]) for r in rows} == {("sent", 1, None)}
    assert {r["sent_at"] for r in rows} == {NOW}


async def test_a_suppression_between_two_groups_of_a_batch_stops_the_later_mails(
    smtp_settings: Settings, receiver: Receiver
) -> None:
    """The suppression list is read for the next mails of a batch, not once per batch: an
    address suppressed while the batch goes out gets no mail once its group comes."""
    for n in range(40):
        await queue(a_mail(f"k{n}", to_address=f"p{n}@customer.example"))
    sender = MailDeliverer(smtp_settings, clock=Clock())
    original = sender._suppressions

    async def reading(mails: list) -> dict[int, str]:  # type: ignore[type-arg]
        if mails[0].to_address != "p0@customer.example":  # the second group's read
            await suppress("p39@customer.example", "unsubscribed", "test", NOW)
        return await original(mails)

    sender._suppressions = reading  # type: ignore[method-assign]
    outcome = await sender.deliver_once()
    assert (outcome.sent, outcome.dead) == (39, 1)
    assert "p39@customer.example" not in {r.rcpt_tos[0] for r in receiver.recorder.received}


async def test_a_sender_waits_for_the_database_once_its_unrecorded_sends_reach_the_bound() -> None:
    """What a worker killed mid-batch sends again is bounded by `most_unrecorded`, however
    slow the database is."""
    database = asyncio.Event()
    written: list[list[int]] = []

    async def write(group: list[tuple[int, datetime]]) -> None:
        await database.wait()
        written.append([mail_id for mail_id, _ in group])

    sends = SendRecorder(write, least=1, most_unrecorded=3, linger_seconds=60)
    sent: list[int] = []

    async def sending() -> None:
        for mail_id in range(10):
            await sends.room()
            sent.append(mail_id)
            sends.sent(mail_id, NOW)
        await sends.finish()

    task = asyncio.ensure_future(sending())
    for _ in range(50):
        await asyncio.sleep(0)
    assert sent == [0, 1, 2] and sends.unrecorded == 3 and not task.done()
    database.set()
    await task
    assert [mail_id for group in written for mail_id in group] == list(range(10))
    assert max(len(group) for group in written) <= 3
