"""The Slack app (slack-bolt): CTA buttons (acknowledge, snooze for some days or to a date
with a reason, reassign, change the due date, add a note, reopen, close with an outcome,
claim a pool's CTA), their modals, `/nps`, the App Home (the person's Today).

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
from datetime import date, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import commands
from bot.blocks import (
    SNOOZE_PICK,
    close_modal,
    cta_url,
    home_view,
    note_modal,
    snooze_modal,
)
from bot.transport import make_client
from feedback.accounts.models import CSM
from feedback.ctas.access import may_act, principal_for_csm
from feedback.ctas.actions import change_cta, raised_by_answer
from feedback.ctas.models import SlackEventSeen
from feedback.ctas.reads import load_cta
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import DomainError, InputError
from feedback.outbox.enqueue import enqueue_cta_message
from feedback.pools.claims import claim_cta
from feedback.settings import Settings
from feedback.today.services import today_for

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
        refusal = (
            f"Nobody in {cta.pool_name} has claimed it yet: press Claim first."
            if cta.pool_id and cta.owner_id is None
            else f"This CTA belongs to {cta.owner_name}; you cannot change it."
        )
        await _tell(client, body, refusal)
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
    except DomainError as exc:  # a bad date, a missing outcome, a second open CTA
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
        csm = await csm_for_slack_user(body["user"]["id"])
        if csm is not None:
            await _refresh_home(client, body, csm)

    @app.action("cta_snooze")
    @answered
    @tolerant
    async def snooze(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = body["actions"][0]["selected_option"]["value"]
        cta_id, version, days = _cta_ref(value)
        if days == SNOOZE_PICK:
            tomorrow = utcnow().date() + timedelta(days=1)
            await _open_modal(
                client, body, cta_id, lambda cta: snooze_modal(cta, tomorrow), "snooze form"
            )
            return
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
        await _open_modal(
            client,
            body,
            cta_id,
            lambda cta: close_modal(cta, outcome_required=raised_by_answer(cta)),
            "close form",
        )

    async def _open_modal(
        client: AsyncWebClient, body: dict[str, Any], cta_id: int, build: Any, form: str
    ) -> None:
        """A form for the CTA (close, note, snooze to a date), when the clicker may act."""
        csm = await csm_for_slack_user(body["user"]["id"])
        cta = await load_cta(cta_id)
        if csm is None or cta is None or not await may_act(csm["id"], cta):
            await _tell(client, body, REFUSAL if csm is None else "You cannot change this CTA.")
            return
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=build(cta))
        except Exception as exc:  # Slack's errors, time-outs: say so, with another way
            log.warning("slack: views.open failed: %r", exc)
            url = cta_url(settings.public_url, cta.id)
            await _tell(
                client,
                body,
                f"Slack could not open the {form} ({_reason(exc)}). Try again, or act on "
                f"the CTA in the browser: {url}",
            )

    @app.view("cta_close_modal")
    @answered
    @tolerant
    async def close_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view["state"]["values"]
        reason = _typed(values, "reason")
        outcome = ((values.get("outcome") or {}).get("value") or {}).get("selected_option")
        outcome_value = outcome.get("value") if isinstance(outcome, dict) else None
        cta_id, version, _ = _cta_ref(view["private_metadata"])
        cta = await load_cta(cta_id)
        if cta is not None and raised_by_answer(cta) and not outcome_value:
            await ack(response_action="errors", errors={"outcome": "Choose how it ended."})
            return
        if not reason and not outcome_value:
            await ack(
                response_action="errors",
                errors={"reason": "Say why it is closed, or choose an outcome."},
            )
            return
        await ack()
        await _act(
            client, body, cta_id, "close", version=version, reason=reason, outcome=outcome_value
        )

    @app.action("cta_note")
    @answered
    @tolerant
    async def note(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        cta_id, _, _ = _cta_ref(body["actions"][0]["value"])
        await _open_modal(client, body, cta_id, note_modal, "note form")

    @app.view("cta_note_modal")
    @answered
    @tolerant
    async def note_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        text = _typed(view["state"]["values"], "note")
        if not text:
            await ack(response_action="errors", errors={"note": "Write the note."})
            return
        await ack()
        cta_id, _, _ = _cta_ref(view["private_metadata"])
        # a note does not depend on what the card showed: no version check
        await _act(client, body, cta_id, "note", reason=text)

    @app.view("cta_snooze_modal")
    @answered
    @tolerant
    async def snooze_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view["state"]["values"]
        reason = _typed(values, "reason")
        picked = ((values.get("until") or {}).get("value") or {}).get("selected_date")
        try:
            until = date.fromisoformat(picked) if isinstance(picked, str) else None
        except ValueError:
            until = None
        today = utcnow().date()
        errors = {}
        if until is None or until <= today:
            errors["until"] = "Pick a day after today."
        if not reason:
            errors["reason"] = "Say why it waits."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        cta_id, version, _ = _cta_ref(view["private_metadata"])
        await _act(
            client, body, cta_id, "snooze", version=version, snooze_until=until, reason=reason
        )

    @app.action("cta_due")
    @answered
    @tolerant
    async def due(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        cta_id = int(action["block_id"].removeprefix("cta:"))
        picked = date.fromisoformat(action["selected_date"])
        await _act(client, body, cta_id, "set_due", due_on=picked)

    @app.action("cta_reopen")
    @answered
    @tolerant
    async def reopen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        cta_id, version, _ = _cta_ref(body["actions"][0]["value"])
        await _act(client, body, cta_id, "reopen", version=version)

    @app.action("cta_claim")
    @answered
    @tolerant
    async def claim(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        cta_id, _, _ = _cta_ref(body["actions"][0]["value"])
        slack_user = body["user"]["id"]
        csm = await csm_for_slack_user(slack_user)
        if csm is None:
            await _tell(client, body, REFUSAL)
            return
        try:
            change = await claim_cta(
                cta_id, csm["id"], actor=f"{csm['email']} (slack {slack_user})", source="slack"
            )
        except DomainError as exc:  # not a member of the pool, no such CTA
            await _tell(client, body, f"Not claimed: {exc.message}")
            return
        if not change.changed:
            await _tell(client, body, change.message)
            return
        await _refresh_home(client, body, csm)

    @app.action("cta_open")
    async def opened_in_browser(ack: AsyncAck) -> None:
        await ack()  # a link button: the browser does the rest

    @app.action("cta_open_account")
    async def opened_account(ack: AsyncAck) -> None:
        await ack()  # a link button: the browser does the rest

    @app.action("home_open_today")
    async def opened_today(ack: AsyncAck) -> None:
        await ack()  # a link button: the browser does the rest

    async def _refresh_home(
        client: AsyncWebClient, body: dict[str, Any], csm: dict[str, Any]
    ) -> None:
        """After a click on the App Home, it shows the change."""
        if (body.get("view") or {}).get("type") != "home":
            return
        await client.views_publish(
            user_id=body["user"]["id"], view=await home_for(csm, settings.public_url)
        )

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
        # a failure here answers 503 (bot/http.py) and leaves the event unseen: Slack's
        # retry publishes the Home
        view = await home_for(csm, settings.public_url)
        await client.views_publish(user_id=event["user"], view=view)
        await remember_event(event_id)

    return app


def _typed(values: dict[str, Any], block_id: str) -> str:
    """The text typed in a modal's text input (blank when left empty)."""
    return str(((values.get(block_id) or {}).get("value") or {}).get("value") or "").strip()


async def home_for(csm: dict[str, Any] | None, public_url: str) -> dict[str, Any]:
    """The App Home of a Slack user: their Today (their scope's, as on the web), or how to
    link their Slack user when it is not linked to a CSM."""
    if csm is None:
        return home_view(None, public_url)
    principal = await principal_for_csm(csm["id"], csm["email"], "slack")
    return home_view(await today_for(principal, utcnow()), public_url)


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
