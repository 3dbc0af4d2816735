"""The outbox's deliverer with a recording transport instead of Slack: what it hands the
transport, how it books each outcome, and that it stops listening when it stops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from feedback.accounts.models import Account
from feedback.ctas.models import Cta
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.outbox.delivery import Deliverer, DeliveryFailed, Outgoing, SendResult
from feedback.outbox.enqueue import notify_delivery
from feedback.outbox.models import Outbox, SlackChannelPace
from feedback.runtime import use_slack_messages
from feedback.settings import Settings, get_settings
from tests.support.factories import book
from tests.support.slack import link_slack_users, slack_env


class RecordingTransport:
    """Answers every send with a new message id, or raises what it is told to."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.failures: list[Exception] = []

    async def send(self, message: Outgoing) -> SendResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        if message.ts:
            return SendResult(message.ts, posted=False)
        return SendResult(f"ts-{len(self.sent)}", posted=True)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in slack_env("http://127.0.0.1:9/api/").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    use_slack_messages()
    yield get_settings()
    get_settings.cache_clear()


async def a_cta(detail: str = "one") -> int:
    account = await Account.select(Account.id).where(Account.external_id == "a1").first()
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(account["id"], "risk", "Detractor answer", detail, 2, None, {"score": 3})
        )
    return cta_id


async def test_a_ctas_first_message_is_posted_and_its_next_version_edits_it(
    settings: Settings,
) -> None:
    await book()
    await link_slack_users()
    cta_id = await a_cta("one")
    transport = RecordingTransport()
    sender = Deliverer(settings, transport)
    assert (await sender.deliver_once()).sent == 1
    await a_cta("two")
    assert (await sender.deliver_once()).sent == 1
    first, second = transport.sent
    assert (first.kind, first.channel, first.ts) == ("cta", "C-ANN", None)
    assert "Acme" in first.text and first.blocks  # rendered by the installed format
    assert (second.channel, second.ts) == ("C-ANN", "ts-1")
    cta = await Cta.select(Cta.slack_channel, Cta.slack_ts).where(Cta.id == cta_id).first()
    assert (cta["slack_channel"], cta["slack_ts"]) == ("C-ANN", "ts-1")


async def test_a_permanent_failure_is_dead_at_once_and_a_rate_limit_does_not_count(
    settings: Settings,
) -> None:
    await book()
    await link_slack_users()
    await a_cta()
    transport = RecordingTransport()
    transport.failures.append(DeliveryFailed("ratelimited", retry_after=30))
    sender = Deliverer(settings, transport)
    now = utcnow()
    assert (await sender.deliver_once(now)).retried == 1
    row = await Outbox.select().first()
    assert row["status"] == "pending" and row["attempts"] == 0
    assert row["last_error"] == "rate limited: ratelimited"
    pace = await SlackChannelPace.select().where(SlackChannelPace.channel == "C-ANN").first()
    assert pace["next_send_at"] >= now + timedelta(seconds=29)  # the channel waits too

    transport.failures.append(DeliveryFailed("channel_not_found", permanent=True))
    assert (await sender.deliver_once(now + timedelta(seconds=31))).dead == 1
    row = await Outbox.select().first()
    assert row["status"] == "dead" and row["last_error"] == "channel_not_found"
    assert transport.sent == []


async def test_a_stopped_deliverer_no_longer_listens_for_new_messages(
    settings: Settings,
) -> None:
    sender = Deliverer(settings, RecordingTransport())
    woken: list[bool] = []
    sender.kick = lambda: woken.append(True)  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop, idle_seconds=0.01))
    await asyncio.sleep(0)  # it starts and listens
    notify_delivery()
    assert woken == [True]
    stop.set()
    await running
    notify_delivery()
    assert woken == [True]
