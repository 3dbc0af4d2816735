"""The Slack app (slack-bolt): CTA buttons, the close modal, `/nps`, the App Home.

The route (bot/http.py) checks every request's signature before bolt sees it. Listeners ack
first, always, and then change the CTA through feedback.ctas.actions (the same code the web
pages use); the change enqueues an update of every message that shows the CTA, which the
outbox deliverer sends with `chat.update`. Changes are compare-and-set, so double clicks and
Slack's retries are harmless. Only Slack users linked to a CSM (`csm.slack_user_id`) may
act, and only on their own CTAs or their team's (managers, feedback.ctas.access.may_act);
everyone else gets an ephemeral refusal.

A Web API call that fails inside a click handler (Slack answering 500 to `views.open`, say)
never turns the click into an error: the user is told ephemerally, or through the
interaction's `response_url` when `chat.postEphemeral` fails too. An event is remembered as
seen only once it was handled, so Slack's retry of an event that failed is handled.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import commands
from bot.blocks import close_modal, cta_url, home_view
from bot.transport import make_client
from feedback.accounts.models import CSM
from feedback.ctas.access import may_act
from feedback.ctas.actions import change_cta
from feedback.ctas.models import SlackEventSeen
from feedback.ctas.reads import load_cta
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.outbox.enqueue import enqueue_cta_message
from feedback.settings import Settings

log = logging.getLogger("feedback.slack")

REFUSAL = (
    "Sorry, your Slack user is not linked to a CSM here, so you cannot act on CTAs. "
    "Ask an admin to add your Slack user id to your CSM record."
)


async def csm_for_slack_user(slack_user_id: str) -> dict[str, Any] | None:
    return (
        await CSM.select(CSM.id, CSM.name, CSM.email, CSM.manager)
        .where((CSM.slack_user_id == slack_user_id) & (CSM.active == True))  # noqa: E712
        .first()
    )


def _cta_ref(value: str) -> tuple[int, int | None, str | None]:
    """Button values are "id:version" (snooze options "id:version:days")."""
    parts = value.split(":")
    try:
        cta_id = int(parts[0])
        version = int(parts[1]) if len(parts) > 1 else None
    except ValueError:
        raise InputError("value", f"not a CTA reference: {value!r}") from None
    return cta_id, version, parts[2] if len(parts) > 2 else None


async def _tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral note to the clicking user (a DM from the App Home). When Slack's Web API
    fails, the interaction's `response_url` carries it; when that fails too, it is logged."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            await client.chat_postMessage(channel=user, text=text)
        return
    except Exception as exc:  # Slack's errors, time-outs, refused connections
        log.warning("slack: could not tell %s through the Web API: %r", user, exc)
    url = body.get("response_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return
    try:
        await AsyncWebhookClient(url, timeout=5).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except Exception as exc:
        log.warning("slack: could not tell %s through the response_url: %r", user, exc)


async def _act(
    client: AsyncWebClient,
    body: dict[str, Any],
    cta_id: int,
    action: str,
    *,
    version: int | None = None,
    **kwargs: Any,
) -> None:
    slack_user = body["user"]["id"]
    csm = await csm_for_slack_user(slack_user)
    if csm is None:
        await _tell(client, body, REFUSAL)
        return
    cta = await load_cta(cta_id)
    if cta is None:
        await _tell(client, body, "That CTA no longer exists.")
        return
    if not await may_act(csm["id"], cta):
        await _tell(client, body, f"This CTA belongs to {cta.owner_name}; you cannot change it.")
        return
    try:
        change = await change_cta(
            cta_id,
            action,
            actor=f"{csm['email']} (slack {slack_user})",
            source="slack",
            expected_version=version,
            **kwargs,
        )
    except InputError as exc:
        await _tell(client, body, f"Not done: {exc.message}")
        return
    if not change.changed:
        # a double click or a stale message: show the user why, and refresh the message
        async with write_transaction():
            await enqueue_cta_message(cta_id, refresh=True)
        await _tell(client, body, change.message)


def tolerant(listener: Any) -> Any:
    """Listeners ack first; a payload that is signed but not shaped as Slack's (a field
    missing, a bad CTA reference) is logged and dropped instead of answering 500."""

    @functools.wraps(listener)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            await listener(*args, **kwargs)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, InputError) as exc:
            log.warning("slack: ignored a malformed request: %r", exc)

    return wrapper


def answered(listener: Any) -> Any:
    """For listeners that acked already: a failure after the ack (a Web API call Slack
    answered 500, the database) is told to the user instead of becoming an error Slack
    shows as a failed click."""

    @functools.wraps(listener)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            await listener(*args, **kwargs)
        except Exception as exc:
            log.exception("slack: a click handler failed after its ack")
            body, client = kwargs.get("body"), kwargs.get("client")
            if isinstance(body, dict) and isinstance(body.get("user"), dict) and client:
                await _tell(client, body, f"Sorry, that did not work ({_reason(exc)}). Try again.")

    return wrapper


def _reason(exc: Exception) -> str:
    """A short reason for the user: Slack's error code, else the kind of failure."""
    error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
    return f"Slack answered {error}" if error else type(exc).__name__


def build_bolt_app(settings: Settings, client: AsyncWebClient | None = None) -> AsyncApp:
    assert settings.slack.bot_token and settings.slack.signing_secret
    app = AsyncApp(
        # the client carries the bot token (and the Web API base URL)
        signing_secret=settings.slack.signing_secret,
        client=client or make_client(settings),
        # listeners are quick (one transaction); answering after them keeps tests and
        # the order of effects deterministic and still well inside Slack's 3 seconds
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    @app.action("cta_ack")
    @answered
    @tolerant
    async def acknowledge(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        cta_id, version, _ = _cta_ref(body["actions"][0]["value"])
        await _act(client, body, cta_id, "acknowledge", version=version)

    @app.action("cta_snooze")
    @answered
    @tolerant
    async def snooze(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = body["actions"][0]["selected_option"]["value"]
        cta_id, version, days = _cta_ref(value)
        await _act(
            client, body, cta_id, "snooze", version=version, snooze_days=int(days or 0) or None
        )

    @app.action("cta_reassign")
    @answered
    @tolerant
    async def reassign(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        cta_id = int(action["block_id"].removeprefix("cta:"))
        target = await csm_for_slack_user(action.get("selected_user") or "")
        if target is None:
            await _tell(client, body, "That Slack user is not linked to a CSM here.")
            return
        await _act(client, body, cta_id, "reassign", owner_id=target["id"])

    @app.action("cta_close")
    @answered
    @tolerant
    async def close(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        cta_id, _, _ = _cta_ref(body["actions"][0]["value"])
        csm = await csm_for_slack_user(body["user"]["id"])
        cta = await load_cta(cta_id)
        if csm is None or cta is None or not await may_act(csm["id"], cta):
            await _tell(client, body, REFUSAL if csm is None else "You cannot close this CTA.")
            return
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=close_modal(cta))
        except Exception as exc:  # Slack's errors, time-outs: say so, with another way
            log.warning("slack: views.open failed: %r", exc)
            url = cta_url(settings.public_url, cta.id)
            await _tell(
                client,
                body,
                f"Slack could not open the close form ({_reason(exc)}). Try again, or close "
                f"the CTA in the browser: {url}",
            )

    @app.view("cta_close_modal")
    @answered
    @tolerant
    async def close_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        reason = (view["state"]["values"]["reason"]["value"].get("value") or "").strip()
        if not reason:
            await ack(response_action="errors", errors={"reason": "Say why it is closed."})
            return
        await ack()
        cta_id, version, _ = _cta_ref(view["private_metadata"])
        await _act(client, body, cta_id, "close", version=version, reason=reason)

    @app.action("cta_open")
    async def opened_in_browser(ack: AsyncAck) -> None:
        await ack()  # a link button: the browser does the rest

    @app.command("/nps")
    @tolerant
    async def nps_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        csm = await csm_for_slack_user(command["user_id"])
        if csm is None:
            await ack(response_type="ephemeral", text=REFUSAL)
            return
        try:
            text, blocks = await commands.answer(csm, command.get("text") or "", settings)
        except Exception as exc:  # the database, a report: answer anyway, never a 500
            log.exception("slack: /nps failed")
            await ack(response_type="ephemeral", text=f"Sorry, that did not work ({_reason(exc)}).")
            return
        await ack(response_type="ephemeral", text=text, blocks=blocks)

    @app.event("app_home_opened")
    @tolerant
    async def home(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        event_id = body.get("event_id")
        if await seen_before(event_id):
            return  # Slack retried an event we handled
        csm = await csm_for_slack_user(event["user"])
        ctas = await commands.open_ctas_of(csm) if csm else []
        # a failure here answers 503 (bot/http.py) and leaves the event unseen: Slack's
        # retry publishes the Home
        await client.views_publish(
            user_id=event["user"], view=home_view(ctas, settings.public_url, csm is not None)
        )
        await remember_event(event_id)

    return app


async def seen_before(event_id: str | None) -> bool:
    """Whether an Events API id was handled already (Slack retries what it thinks failed)."""
    if not event_id or not isinstance(event_id, str):
        return False
    return bool(await SlackEventSeen.exists().where(SlackEventSeen.event_id == event_id[:100]))


async def remember_event(event_id: str | None) -> None:
    """Remember an Events API id once its event was handled."""
    if not event_id or not isinstance(event_id, str):
        return
    await SlackEventSeen.insert(
        SlackEventSeen(event_id=event_id[:100], seen_at=utcnow())
    ).on_conflict(action="DO NOTHING")


async def forget_old_events() -> int:
    """Worker job: event ids older than a day (Slack retries within minutes)."""
    old = (
        await SlackEventSeen.delete()
        .where(SlackEventSeen.seen_at < utcnow() - timedelta(days=1))
        .returning(SlackEventSeen.id)
    )
    return len(old)
