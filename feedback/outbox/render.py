"""The one renderer of an outbox message, used by the deliverer and by the admins' preview.

A CTA's message (its card, or a reply under it) is rendered when it is sent (or previewed),
from the CTA as it is then; a digest's or a notice's text is rendered when it is queued and
stored with it. How a message looks is the channel's business: the composition roots
(feedback/app.py, feedback/runtime.py) install the message format, Slack's Block Kit
(bot/blocks.py), with `use_format`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import cta_types
from feedback.db import as_utc_datetime, fetch, json_object
from feedback.outbox import queries
from feedback.outbox.messages import (
    Digest,
    OutboxMessage,
    Person,
    Rendered,
    Respondent,
    ThreadEvent,
)
from feedback.settings import get_settings

# "ann@example.com (slack UANN)": how the Slack bot records who clicked
_SLACK_ACTOR = re.compile(r"^(?P<who>.+?) \(slack [A-Z0-9]+\)$")
# the data keys of a history event that name a CSM by id
PEOPLE_KEYS = ("owner", "manager", "from_owner")


class MessageFormat(Protocol):
    """How messages look where they are delivered."""

    def cta(
        self,
        cta: CtaView,
        type_label: str,
        public_url: str,
        current: bool = True,
        respondent: Respondent | None = None,
    ) -> Rendered:
        """A CTA's message: with its buttons in the owner's channel (`current`), else (an
        earlier owner's card) its state, who has it now, and no buttons. A CTA raised by an
        answer names who answered (`respondent`)."""
        ...

    def thread(self, event: ThreadEvent, cta: CtaView, public_url: str) -> Rendered:
        """A short reply under a CTA's card: what happened, who did it, when."""
        ...

    def digest(self, digest: Digest, public_url: str) -> Rendered:
        """A CSM's daily digest."""
        ...


_format: MessageFormat | None = None


def use_format(message_format: MessageFormat) -> None:
    """Render this process's messages with `message_format` (a composition root calls it)."""
    global _format
    _format = message_format


def message_format() -> MessageFormat:
    if _format is None:
        raise RuntimeError(
            "no message format: a composition root (feedback.app, feedback.runtime) installs "
            "one with feedback.outbox.render.use_format"
        )
    return _format


async def respondent_of(trigger: dict[str, Any]) -> Respondent | None:
    """Who gave the answer a CTA (or a reply) is about: their name when the product sent one
    (the `name` trait), else their email, else their id; with their role."""
    if trigger.get("kind") != "response":
        return None
    user = str(trigger.get("user") or "")
    role = str(trigger.get("role") or "") or None
    row = await queries.RESPONDENT.first(user) if user else None
    label = user or "a user"
    if row is not None:
        name = json_object(row["traits"]).get("name")
        label = (str(name).strip() if name else "") or row["email"] or label
    return Respondent(label, role)


async def render_cta(
    cta: CtaView, public_url: str | None = None, *, current: bool = True
) -> Rendered:
    """The message that shows the CTA as it is now (`current`: in its owner's channel, with
    buttons; else an earlier owner's card, without)."""
    types = await cta_types()
    url = get_settings().public_url if public_url is None else public_url
    respondent = await respondent_of(cta.trigger)
    return message_format().cta(cta, types.get(cta.type, "CTA"), url, current, respondent)


async def actor_name(actor: str) -> str:
    """Who did something, as a reply names them: a CSM's name (the Slack bot and the web
    record their email), else the actor as recorded ("rule:detractor_risk", "pool Night")."""
    match = _SLACK_ACTOR.match(actor)
    who = match.group("who") if match else actor
    if "@" in who:
        row = await queries.CSM_BY_EMAIL.first(who.lower())
        if row is not None and row["name"]:
            return str(row["name"])
    return who


async def thread_event(payload: dict[str, Any]) -> ThreadEvent:
    """A reply's stored event, with the people it names looked up as they are now."""
    data = payload.get("data") or {}
    ids = sorted({data[key] for key in PEOPLE_KEYS if isinstance(data.get(key), int)})
    people = {}
    if ids:
        for row in await fetch(queries.csms_sql(len(ids)), *ids):
            people[row["id"]] = Person(row["name"] or row["email"], row["slack_user_id"])
    return ThreadEvent(
        action=str(payload.get("action") or ""),
        actor=await actor_name(str(payload.get("actor") or "")),
        source=str(payload.get("source") or ""),
        note=str(payload.get("note") or ""),
        data=data,
        at=as_utc_datetime(payload.get("at")),
        to_status=payload.get("to_status"),
        people=people,
    )


async def render_thread(
    cta: CtaView, payload: dict[str, Any], public_url: str | None = None
) -> Rendered:
    """A reply under the CTA's card, from its stored event."""
    url = get_settings().public_url if public_url is None else public_url
    event = await thread_event(payload)
    if event.action == "answer":
        respondent = await respondent_of(event.data)
        if respondent is not None:
            event = ThreadEvent(
                event.action,
                respondent.label + (f" ({respondent.role})" if respondent.role else ""),
                event.source,
                event.note,
                event.data,
                event.at,
                event.to_status,
                event.people,
            )
    return message_format().thread(event, cta, url)


def render_stored(message: OutboxMessage) -> Rendered:
    """The text and blocks stored with a message (a digest, a notice)."""
    return Rendered(message.payload.get("text", ""), message.payload.get("blocks", []))


async def render(message: OutboxMessage) -> Rendered:
    """The text and blocks this message sends (a CTA's card or reply as the CTA is now;
    nothing when the CTA is gone)."""
    if message.kind not in ("cta", "thread"):
        return render_stored(message)
    cta = await load_cta(message.cta) if message.cta else None
    if cta is None:
        return Rendered("", [])
    if message.kind == "thread":
        return await render_thread(cta, message.payload)
    return await render_cta(cta)
