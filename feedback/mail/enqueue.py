"""Queueing a mail in the caller's transaction, with the consent rules checked first: a valid
address, not suppressed (unsubscribed or bounced), at most one program mail per address every
FEEDBACK_MAIL_MIN_DAYS_BETWEEN days. And the signed one-click unsubscribe link every program
mail carries.

Programs call `enqueue_mail` inside their own `write_transaction()`: the mail exists if and
only if the change that caused it does. The deliverer (delivery.py) sends it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from enum import StrEnum
from urllib.parse import urlsplit

from feedback.db import is_sqlite, write_transaction
from feedback.mail import queries
from feedback.mail.models import MailKind
from feedback.settings import get_settings
from feedback.webhooks.events import record_event
from feedback.webhooks.models import EventType


@dataclass(frozen=True)
class NewMail:
    key: str  # idempotency key, unique (e.g. "program:3:participant:17:step:2")
    to_address: str
    to_name: str
    from_name: str  # the CSM's (or pool's) name: mail is sent as the CSM
    reply_to: str | None  # the CSM's address
    subject: str
    text: str  # the plain-text part (required)
    html: str | None  # the HTML part
    kind: str = MailKind.program.value  # "program": consent rules apply; "test": to staff
    end_user_id: int | None = None
    program_id: int | None = None
    participant_id: int | None = None
    locale: str = "en"


class MailRefusal(StrEnum):
    invalid_address = "invalid_address"
    suppressed = "suppressed"  # unsubscribed or hard bounce
    throttled = "throttled"  # a program mail to this address within the minimum days
    duplicate = "duplicate"  # this key was queued already


@dataclass(frozen=True)
class Queued:
    mail_id: int | None
    refused: MailRefusal | None = None
    detail: str = ""
    retry_at: datetime | None = None  # throttled: when it may be sent


# one address, ASCII local part (SMTPUTF8 is rare among relays), a domain with a dot
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_address(address: str) -> str | None:
    """The address in lower case, or None when it is not one plain, deliverable address."""
    address = address.strip()
    if not address or len(address) > 254 or any(c.isspace() for c in address):
        return None
    name, parsed = parseaddr(address)
    if name or parsed != address or address.count("@") != 1:
        return None
    local, domain = address.rsplit("@", 1)
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    return f"{local}@{ascii_domain}".lower()


async def enqueue_mail(mail: NewMail, now: datetime) -> Queued:
    """Write the mail row in the caller's transaction (call it inside write_transaction(); it
    nests). Checks, in order: the address is valid, the key was not queued already
    (`duplicate`: a program retrying a step learns it is done, not that it is throttled by
    its own mail), and for kind "program": not suppressed, not throttled (across all
    programs, at most one per settings.mail.min_days_between days per address, counting
    queued and sent mails). A refused mail writes nothing."""
    address = normalize_address(mail.to_address)
    if address is None:
        return Queued(
            None, MailRefusal.invalid_address, f"not an email address: {mail.to_address!r}"
        )
    settings = get_settings()
    async with write_transaction():
        if not is_sqlite():  # SQLite's write transaction holds the database's lock already
            await queries.LOCK_ADDRESS.run(address)
        if await queries.MAIL_WITH_KEY.first(mail.key) is not None:
            return Queued(None, MailRefusal.duplicate, f"queued already: {mail.key}")
        if mail.kind == MailKind.program.value:
            reason = await suppression_of(address)
            if reason is not None:
                return Queued(None, MailRefusal.suppressed, reason)
            days = settings.mail.min_days_between
            if days > 0:
                since = now - timedelta(days=days)
                rows = await queries.RECENT_PROGRAM_MAILS.fetch(address, since, since)
                moments = [row["sent_at"] or row["created_at"] for row in rows]
                if moments:
                    last = max(moments)
                    return Queued(
                        None,
                        MailRefusal.throttled,
                        f"a program mail went to this address on {last:%Y-%m-%d}",
                        retry_at=last + timedelta(days=days),
                    )
        row = await queries.INSERT_MAIL.first(
            mail.key,
            mail.kind,
            address,
            mail.to_name,
            mail.from_name,
            mail.reply_to,
            mail.subject,
            mail.text,
            mail.html,
            mail.locale,
            mail.end_user_id,
            mail.program_id,
            mail.participant_id,
            make_msgid(domain=_public_host()),
            now,
            now,
        )
    if row is None:
        return Queued(None, MailRefusal.duplicate, f"queued already: {mail.key}")
    notify_delivery()
    return Queued(int(row["id"]))


async def suppression_of(address: str) -> str | None:
    """The reason an address gets no program mail (unsubscribed, hard_bounce, imported), or
    None."""
    normalized = normalize_address(address) or address.strip().lower()
    row = await queries.SUPPRESSION_OF.first(normalized)
    return None if row is None else str(row["reason"])


async def _add_suppression(address: str, reason: str, source: str, now: datetime) -> int | None:
    """The new suppression entry's id; None when the address was on the list already."""
    normalized = normalize_address(address) or address.strip().lower()
    row = await queries.SUPPRESS.first(normalized, reason, source[:200], now)
    return None if row is None else int(row["id"])


async def suppress(address: str, reason: str, source: str, now: datetime) -> bool:
    """Add an address to the suppression list; False when it was on it already."""
    return await _add_suppression(address, reason, source, now) is not None


async def suppress_person(address: str, reason: str, source: str, now: datetime) -> bool:
    """`suppress`, for a person who unsubscribed or whom an admin put on the list: the
    webhooks' `person.unsubscribed` is recorded in the same transaction. (Imported lists and
    bounces call `suppress`: nobody decided anything just now.)"""
    entry = await _add_suppression(address, reason, source, now)
    if entry is None:
        return False
    await record_event(EventType.person_unsubscribed, entry, occurred_at=now)
    return True


async def unsuppress(address: str) -> bool:
    """Take an address off the suppression list; False when it was not on it."""
    normalized = normalize_address(address) or address.strip().lower()
    return await queries.UNSUPPRESS.first(normalized) is not None


# -------------------------------------------------------------------- unsubscribe links


def _signature(address: str) -> str:
    key = hashlib.sha256(("mail-unsubscribe:" + get_settings().secret_key).encode()).digest()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_token(address: str) -> str:
    """A token naming the address, signed with the secret key; it does not expire (a link in
    a year-old mail must still work)."""
    address = address.strip().lower()
    encoded = base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")
    return f"{encoded}.{_signature(address)}"


def address_of_token(token: str) -> str | None:
    """The address a token names, or None when it is malformed or its signature is wrong."""
    encoded, _, signature = token.partition(".")
    if not encoded or not signature or len(token) > 1000:
        return None
    try:
        address = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(signature.encode(), _signature(address).encode()):
        return None
    return address


def unsubscribe_url(address: str) -> str:
    """The service's one-click unsubscribe URL for an address (GET shows a confirmation page,
    POST with `List-Unsubscribe=One-Click` unsubscribes at once)."""
    return f"{get_settings().public_url.rstrip('/')}/unsubscribe/{unsubscribe_token(address)}"


def _public_host() -> str:
    return urlsplit(get_settings().public_url).hostname or "localhost"


# ------------------------------------------------------------- waking the deliverer

_listeners: list[Callable[[], None]] = []


def on_enqueue(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` whenever this process queues a mail (the in-process deliverer wakes
    up). Returns the function that stops it."""
    _listeners.append(callback)

    def stop_listening() -> None:
        with contextlib.suppress(ValueError):
            _listeners.remove(callback)

    return stop_listening


def notify_delivery() -> None:
    for callback in list(_listeners):
        callback()
