"""Slack's Web API as the outbox's transport: `chat.postMessage` for a new message,
`chat.update` for a CTA's message already in the channel, and Slack's errors told apart for
the deliverer (feedback/outbox/delivery.py): a 429 waits `Retry-After`; errors a retry will
not fix (channel_not_found, invalid_auth, ...) are permanent; everything else is retried.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from feedback.outbox.delivery import DeliveryFailed, Outgoing, SendResult
from feedback.settings import Settings

# errors a retry will not fix: the message is dead at once, with the error for admins
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "no_permission",
    "missing_scope",
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "restricted_action",
    "user_not_found",
}


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
            if status < 500 and error in PERMANENT_ERRORS:
                raise DeliveryFailed(error, permanent=True) from exc
            raise DeliveryFailed(error) from exc

    async def _send(self, message: Outgoing) -> SendResult:
        if message.kind != "cta":
            result = await self.client.chat_postMessage(
                channel=message.channel, text=message.text, blocks=message.blocks
            )
            return SendResult(result.get("ts"), posted=True)
        if message.ts:
            try:
                await self.client.chat_update(
                    channel=message.channel, ts=message.ts, text=message.text, blocks=message.blocks
                )
                return SendResult(message.ts, posted=False)
            except SlackApiError as exc:
                if exc.response.get("error") != "message_not_found":
                    raise
        result = await self.client.chat_postMessage(
            channel=message.channel, text=message.text, blocks=message.blocks, unfurl_links=False
        )
        return SendResult(result.get("ts"), posted=True)


def _retry_after(headers: Any) -> float:
    try:
        return max(float(headers.get("Retry-After") or headers.get("retry-after") or 1), 0.0)
    except (TypeError, ValueError):
        return 1.0
