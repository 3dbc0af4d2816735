"""Plain notices (a program's "post to Slack" step, say): queued once in the caller's
transaction, to the channel given or the default one, else kept unrouted for admins."""

from __future__ import annotations

import pytest

from devtools.slack_standin import SlackStandIn
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.outbox.enqueue import enqueue_notice
from feedback.outbox.models import Outbox
from feedback.settings import Settings, get_settings
from tests.support.slack import slack_deliverer


async def test_a_notice_is_posted_once_to_its_channel(
    standin: SlackStandIn, settings: Settings
) -> None:
    async with write_transaction():
        await enqueue_notice("C-POOL", "Acme joined the onboarding program", "p1:acme", utcnow())
    await enqueue_notice("C-POOL", "Acme joined the onboarding program", "p1:acme", utcnow())
    assert (await slack_deliverer(settings).deliver_once()).sent == 1
    (post,) = standin.calls_to("chat.postMessage")
    assert post.args["channel"] == "C-POOL"
    assert post.args["text"] == "Acme joined the onboarding program"


async def test_a_notice_without_a_channel_goes_to_the_default_one(
    standin: SlackStandIn, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_SLACK_DEFAULT_CHANNEL", "C-DEFAULT")
    get_settings.cache_clear()
    await enqueue_notice(None, "hello", "n1", utcnow())
    assert (await slack_deliverer(get_settings()).deliver_once()).sent == 1
    (post,) = standin.calls_to("chat.postMessage")
    assert post.args["channel"] == "C-DEFAULT"


async def test_a_notice_with_nowhere_to_go_is_kept_unrouted(settings: Settings) -> None:
    await enqueue_notice(None, "hello", "n1", utcnow())
    (row,) = await Outbox.select(Outbox.kind, Outbox.status, Outbox.payload)
    assert (row["kind"], row["status"]) == ("notice", "unrouted")
