"""Mail through real processes: a `feedback worker` SIGKILLed in the middle of a batch loses
no mail, and `feedback mail test` reaches the relay."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

import pytest

from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.mail.delivery import MailDeliverer
from feedback.mail.enqueue import NewMail, enqueue_mail
from feedback.mail.models import MailMessage
from feedback.settings import get_settings
from tests.api.mail.receiver import Receiver, Recorder
from tests.support.processes import feedback
from tests.support.waiting import eventually

MAILS = 40


async def test_a_worker_killed_mid_batch_loses_no_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    # the relay takes 8 mails and then holds the 9th: the kill lands mid-batch
    receiver = Receiver(Recorder(hold_after=8)).start()
    try:
        now = utcnow()
        async with write_transaction():
            for n in range(MAILS):
                queued = await enqueue_mail(
                    NewMail(
                        f"kill:{n}",
                        f"p{n}@customer.example",
                        f"P {n}",
                        "Alex",
                        None,
                        f"Hello {n}",
                        "text",
                        None,
                    ),
                    now,
                )
                assert queued.mail_id
        env = {
            **os.environ,
            "FEEDBACK_SMTP_URL": receiver.url,
            "FEEDBACK_MAIL_LEASE_SECONDS": "5",
            "FEEDBACK_WORKER_INTERVAL_SECONDS": "3600",
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "feedback",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await eventually(lambda: len(receiver.recorder.received) >= 8, what="mails flowing")
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            receiver.recorder.released.set()
        before = len(receiver.recorder.received)
        assert before < MAILS, "the worker finished before it was killed"
        left = await MailMessage.count().where(MailMessage.status != "sent")
        assert left > 0
        # another worker, once the killed one's lease ran out, sends the rest
        monkeypatch.setenv("FEEDBACK_SMTP_URL", receiver.url)
        get_settings.cache_clear()
        try:
            later = utcnow() + timedelta(seconds=6)
            sender = MailDeliverer(get_settings(), clock=lambda: later)
            await sender.deliver_due()
        finally:
            get_settings.cache_clear()
        ids = receiver.recorder.message_ids()
        expected = {row["message_id"] for row in await MailMessage.select(MailMessage.message_id)}
        assert set(ids) == expected  # nothing lost
        # at most the mails the relay took as the worker died (its unrecorded sends,
        # counting the one in flight) are sent again, each with its Message-ID
        assert len(ids) - len(set(ids)) <= sender.most_unrecorded
        assert await MailMessage.count().where(MailMessage.status != "sent") == 0
    finally:
        receiver.stop()


def test_mail_test_sends_one_mail_through_the_relay() -> None:
    receiver = Receiver().start()
    try:
        done = feedback(
            "mail", "test", "--to", "Me@Vendor.example", env={"FEEDBACK_SMTP_URL": receiver.url}
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("sent to me@vendor.example through smtp://127.0.0.1:")
        [received] = receiver.recorder.received
        assert received.rcpt_tos == ["me@vendor.example"]
        assert "日本語も届きます" in received.message.get_content()
    finally:
        receiver.stop()


def test_mail_test_names_what_is_wrong() -> None:
    unset = feedback("mail", "test", "--to", "me@vendor.example")
    assert unset.returncode == 1 and "FEEDBACK_SMTP_URL is not set" in unset.stderr
    bad = feedback("mail", "test", "--to", "me", env={"FEEDBACK_SMTP_URL": "smtp://127.0.0.1:1"})
    assert bad.returncode == 1 and "--to: not an email address" in bad.stderr
    malformed = feedback(
        "mail", "test", "--to", "me@vendor.example", env={"FEEDBACK_SMTP_URL": "http://x"}
    )
    assert malformed.returncode == 1 and "FEEDBACK_SMTP_URL" in malformed.stderr
