"""The one renderer of an outbox message, used by the deliverer and by the admins' preview.

A CTA's message is rendered when it is sent (or previewed), from the CTA as it is then; a
digest's text and blocks are rendered when it is queued and stored with it. How a message
looks is the channel's business: the composition roots (feedback/app.py, feedback/runtime.py)
install the message format, Slack's Block Kit (bot/blocks.py), with `use_format`.
"""

from __future__ import annotations

from typing import Protocol

from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.ctas.rule_settings import cta_types
from feedback.outbox.messages import Digest, OutboxMessage, Rendered
from feedback.settings import get_settings


class MessageFormat(Protocol):
    """How messages look where they are delivered."""

    def cta(self, cta: CtaView, type_label: str, public_url: str, current: bool = True) -> Rendered:
        """A CTA's message: with its buttons in the owner's channel (`current`), else (an
        earlier owner's card) its state, who has it now, and no buttons."""
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


async def render_cta(
    cta: CtaView, public_url: str | None = None, *, current: bool = True
) -> Rendered:
    """The message that shows the CTA as it is now (`current`: in its owner's channel, with
    buttons; else an earlier owner's card, without)."""
    types = await cta_types()
    url = get_settings().public_url if public_url is None else public_url
    return message_format().cta(cta, types.get(cta.type, "CTA"), url, current)


def render_stored(message: OutboxMessage) -> Rendered:
    """The text and blocks stored with a message (a digest)."""
    return Rendered(message.payload.get("text", ""), message.payload.get("blocks", []))


async def render(message: OutboxMessage) -> Rendered:
    """The text and blocks this message sends (a CTA's as the CTA is now; nothing when the
    CTA is gone)."""
    if message.kind != "cta":
        return render_stored(message)
    cta = await load_cta(message.cta) if message.cta else None
    if cta is None:
        return Rendered("", [])
    return await render_cta(cta)
