"""Slack down for minutes or hours: messages keep retrying with capped backoff and go out
once Slack is back; only errors a retry cannot fix, or failing past the retry horizon
(FEEDBACK_SLACK_RETRY_HOURS), make a message dead; the backlog shows in /metrics and on the
outbox page. The clock is moved, nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from devtools.slack_standin import SlackStandIn
from feedback.kernel.clock import utcnow
from feedback.outbox.admin import outbox_backlog
from feedback.outbox.delivery import Deliverer
from feedback.outbox.models import Outbox
from feedback.settings import Settings, get_settings
from tests.support.factories import book
from tests.support.slack import (
    BOT_TOKEN,
    link_slack_users,
    slack_deliverer,
    slack_env,
    widget_answer,
)

METRICS_TOKEN = "metrics-token-0123456789"


@pytest.fixture
def settings(standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in slack_env(standin.api_url, FEEDBACK_METRICS_TOKEN=METRICS_TOKEN).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


# `slack_client` (this folder's conftest.py) is built with the `settings` above


async def the_message() -> dict[str, Any]:
    (row,) = await Outbox.select()
    return row


async def retry_until(sender: Deliverer, now: datetime, until: datetime) -> datetime:
    """Deliver at each moment the message is due, up to `until`; the moment it stopped."""
    while now < until:
        outcome = await sender.deliver_once(now)
        row = await the_message()
        if row["status"] != "pending":
            return now
        assert outcome.retried == 1, outcome
        now = row["next_attempt_at"] + timedelta(milliseconds=1)
    return now


def gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


async def test_an_outage_of_hours_loses_nothing_and_shows_as_backlog(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    standin.outage(503)
    sender = slack_deliverer(settings, backoff_seconds=2.0, max_backoff_seconds=300.0)
    start = utcnow()
    # four minutes used to kill it (8 attempts in 230 s): two hours now do not
    now = await retry_until(sender, start, start + timedelta(hours=2))
    row = await the_message()
    assert row["status"] == "pending" and row["attempts"] > 8, row
    assert "service_unavailable" in row["last_error"] and row["failing_since"] is not None
    # the backlog: one message waiting for two hours, retrying
    backlog = await outbox_backlog(now)
    assert (backlog.waiting, backlog.retrying) == (1, 1)
    assert backlog.oldest_seconds >= 2 * 3600
    scraped = await slack_client.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert scraped.status_code == 200
    assert gauge(scraped.text, "feedback_outbox_waiting_messages") == 1
    assert gauge(scraped.text, "feedback_outbox_retrying_messages") == 1
    assert gauge(scraped.text, "feedback_outbox_oldest_waiting_seconds") > 0
    # Slack is back: the next attempt (at most five minutes later) sends it
    standin.restore()
    assert (await sender.deliver_once(row["next_attempt_at"] + timedelta(seconds=1))).sent == 1
    sent = await the_message()
    assert sent["status"] == "sent" and sent["failing_since"] is None
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert (await outbox_backlog()).waiting == 0


async def test_a_message_failing_past_the_horizon_is_dead(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    standin.outage(500)
    sender = slack_deliverer(settings, backoff_seconds=60.0, max_backoff_seconds=3600.0)
    start = utcnow()
    end = await retry_until(sender, start, start + timedelta(hours=30))
    row = await the_message()
    assert row["status"] == "dead", row
    assert timedelta(hours=24) <= end - start < timedelta(hours=26)
    assert "failing for over 24 h" in row["last_error"]


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth", "not_in_channel"])
async def test_an_error_a_retry_cannot_fix_is_dead_at_once(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings, error: str
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    standin.fail("chat.postMessage", error=error)
    assert (await slack_deliverer(settings).deliver_once()).dead == 1
    row = await the_message()
    assert row["status"] == "dead" and row["attempts"] == 1 and error in row["last_error"]


async def test_a_refused_connection_is_retried(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    nowhere = AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:1/api/", timeout=2)
    sender = slack_deliverer(settings, client=nowhere)
    assert (await sender.deliver_once()).retried == 1
    row = await the_message()
    assert row["status"] == "pending" and row["failing_since"] is not None
    assert "Connect" in row["last_error"] or "refused" in row["last_error"].lower()
    later = row["next_attempt_at"] + timedelta(seconds=1)
    assert (await slack_deliverer(settings).deliver_once(later)).sent == 1


async def test_the_outbox_page_shows_the_backlog(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    from feedback.kernel.principal import Role
    from tests.web.test_cta_pages import staff

    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    standin.outage(503)
    await slack_deliverer(settings).deliver_once()
    await staff(slack_client, "admin@example.com", Role.admin)
    page = await slack_client.get("/admin/outbox")
    assert page.status_code == 200
    assert "Waiting to be sent: 1" in page.text and "retrying: 1" in page.text
    assert "pending (retrying" in page.text
