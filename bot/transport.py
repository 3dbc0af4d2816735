"""Slack's Web API as the outbox's transport: `chat.postMessage` for a new message (with
`thread_ts` for a reply under a CTA's card), `chat.update` for a CTA's card already in a
conversation, and Slack's errors told apart for
the deliverer (feedback/outbox/delivery.py):

- a 429 waits `Retry-After`;
- failures a retry may fix are retried (for FEEDBACK_SLACK_RETRY_HOURS): HTTP 5xx and the
  errors Slack names for its own trouble (`internal_error`, `fatal_error`,
  `service_unavailable`, `request_timeout`), and time-outs and refused connections (not
  Slack's answers: the deliverer retries any exception);
- every other error Slack names (`channel_not_found`, `invalid_auth`, `not_in_channel`,
  `invalid_blocks`, ...) is permanent: a retry sends the same request and gets the same
  answer, so the message is dead at once, with the error for admins.

A message posted to a user (U...) is a direct message in a D... conversation: the answer's
`channel` is where it is, and `chat.update` needs that one.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from feedback.outbox.delivery import DeliveryFailed, Outgoing, SendResult
from feedback.settings import Settings

# errors Slack names for its own trouble: retried like a 5xx
TRANSIENT_ERRORS = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
}
# an edit that cannot be made where the card was: post a new card instead (the message was
# deleted, or an older card recorded the user instead of the conversation)
REPOST_ERRORS = {"message_not_found", "cant_update_message", "channel_not_found"}


def make_client(settings: Settings, timeout: int = 10) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.slack.bot_token, base_url=settings.slack.api_url, timeout=timeout
    )


class SlackTransport:
    """The outbox's `Transport` over Slack's Web API."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def send(self, message: Outgoing) -> SendResult:
        try:
            return await self._send(message)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status == 429:
                raise DeliveryFailed(error, retry_after=_retry_after(exc.response.headers)) from exc
            if status >= 500 or error in TRANSIENT_ERRORS:
                raise DeliveryFailed(error) from exc
            raise DeliveryFailed(error, permanent=True) from exc

    async def _send(self, message: Outgoing) -> SendResult:
        if message.kind != "cta":
            # a reply goes in the conversation its card is in (a D... one for a direct message)
            result = await self.client.chat_postMessage(
                channel=message.at or message.channel,
                text=message.text,
                blocks=message.blocks or None,
                thread_ts=message.thread_ts,
                unfurl_links=False,
            )
            return SendResult(result.get("ts"), posted=True, channel=result.get("channel"))
        if message.ts:
            conversation = message.at or message.channel
            try:
                await self.client.chat_update(
                    channel=conversation, ts=message.ts, text=message.text, blocks=message.blocks
                )
                return SendResult(message.ts, posted=False, channel=conversation)
            except SlackApiError as exc:
                if (
                    exc.response.status_code >= 500
                    or exc.response.get("error") not in REPOST_ERRORS
                ):
                    raise
        result = await self.client.chat_postMessage(
            channel=message.channel, text=message.text, blocks=message.blocks, unfurl_links=False
        )
        return SendResult(result.get("ts"), posted=True, channel=result.get("channel"))


def _retry_after(headers: Any) -> float:
    try:
        return max(float(headers.get("Retry-After") or headers.get("retry-after") or 1), 0.0)
    except (TypeError, ValueError):
        return 1.0
