"""The widget's "Talk to <owner>" link for detractors, and the clicks on thank-you links.

The owner is the account's CSM, or the pool of specialists serving an account without one,
with their meeting link (e.g. a Calendly page). The link is offered only when the survey
says so (`Survey.talk_to_detractors`) and only an http(s) address is ever offered. A click
is counted once per display and link, per survey and category: a count, never a cookie.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec

from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, InputError
from feedback.surveys import queries
from feedback.surveys.keys import KeyInfo

LINKS = ("talk_to",)


class TalkTo(msgspec.Struct, frozen=True):
    """Whom a detractor may talk to, and where to book the meeting."""

    name: str
    url: str


def meeting_link(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) address, else None (a javascript: or relative
    link is never offered, whatever an admin stored)."""
    value = (url or "").strip()
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


async def talk_to_for(account: int) -> TalkTo | None:
    """The account's CSM with a meeting link, else the meeting link of the pool serving it,
    else None."""
    row = await queries.ACCOUNT_CSM_MEETING.first(account)
    if row is not None:
        url = meeting_link(row["meeting_url"])
        return TalkTo(row["name"], url) if url else None
    from feedback.pools.audience import pool_for_account

    pool = await pool_for_account(account)
    url = meeting_link(pool.meeting_url) if pool is not None else None
    return TalkTo(pool.name, url) if pool is not None and url else None


async def count_click(key: KeyInfo, token: str, link: str, now: datetime | None = None) -> bool:
    """Count that the display's `link` was followed; False when it was counted already.
    Only an answered display's link counts (the category is its answer's)."""
    display = await queries.DISPLAY_ANSWER.first(token, key.id)
    if display is None:
        raise InputError("display_token", "no such display for this key")
    if display["category"] is None:
        raise Conflict.for_field("display_token", "the display has no answer yet")
    inserted = await queries.COUNT_LINK_CLICK.first(
        f"{display['display']}:{link}",
        display["display"],
        display["survey"],
        link,
        display["category"],
        now or utcnow(),
    )
    return inserted is not None


async def link_clicks(survey: int) -> dict[str, dict[str, int]]:
    """The survey's followed links: {link: {category: clicks}}, every link and category
    present (0 when none)."""
    counts: dict[str, dict[str, int]] = {
        link: {"promoter": 0, "passive": 0, "detractor": 0} for link in LINKS
    }
    rows: list[dict[str, Any]] = await queries.LINK_CLICKS.fetch(survey)
    for row in rows:
        counts.setdefault(row["link"], {})[row["category"]] = int(row["clicks"])
    return counts
