"""The mail outbox as admins see it: counts, the mails waiting, sent and dead, one mail in
full, sending a dead mail again, and the suppression list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedback.auth.services import audit
from feedback.db import as_utc_datetime, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError, NotFound
from feedback.mail import queries
from feedback.mail.enqueue import normalize_address, notify_delivery, suppress_person, unsuppress
from feedback.mail.models import MailStatus, SuppressionReason

# what the page's filter offers: waiting is pending and sending (claimed by a worker now)
VIEWS: dict[str, tuple[str, str]] = {
    "waiting": (MailStatus.pending.value, MailStatus.sending.value),
    "sent": (MailStatus.sent.value, MailStatus.sent.value),
    "dead": (MailStatus.dead.value, MailStatus.dead.value),
}


@dataclass(frozen=True)
class ListedMail:
    id: int
    kind: str
    to_address: str
    to_name: str
    from_name: str
    subject: str
    program_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ListedMail:
        return cls(
            id=int(row["id"]),
            kind=row["kind"],
            to_address=row["to_address"],
            to_name=row["to_name"] or "",
            from_name=row["from_name"] or "",
            subject=row["subject"],
            program_id=row["program_id"],
            status=row["status"],
            attempts=int(row["attempts"]),
            next_attempt_at=_when(row["next_attempt_at"]),
            last_error=row["last_error"] or "",
            created_at=_when(row["created_at"]),
            sent_at=_when(row["sent_at"]),
        )


def _when(value: Any) -> datetime | None:
    return as_utc_datetime(value) if value is not None else None


async def mail_counts() -> dict[str, int]:
    """How many mails in each status (every status, zero when none)."""
    counts = {status.value: 0 for status in MailStatus}
    for row in await queries.COUNTS.fetch():
        counts[row["status"]] = int(row["n"])
    return counts


async def list_mails(view: str, limit: int = 100, offset: int = 0) -> list[ListedMail]:
    """The newest mails waiting, sent or dead."""
    if view not in VIEWS:
        raise InputError("status", f"one of {', '.join(VIEWS)}")
    first, second = VIEWS[view]
    rows = await queries.MAILS_IN.fetch(first, second, limit, offset)
    return [ListedMail.from_row(row) for row in rows]


async def get_mail(mail_id: int) -> dict[str, Any]:
    """One mail with its text and HTML parts."""
    row = await queries.MAIL.first(mail_id)
    if row is None:
        raise NotFound(f"no mail {mail_id}")
    for name in ("next_attempt_at", "claimed_until", "failing_since", "created_at", "sent_at"):
        row[name] = _when(row[name])
    return row


async def retry_dead(mail_id: int, actor: str, now: datetime | None = None) -> None:
    """A dead mail goes back to the queue, due now. Its address is checked again when it is
    sent: a suppressed address stays unmailed."""
    async with write_transaction():
        row = await queries.RETRY_DEAD.first(now or utcnow(), mail_id)
        if row is None:
            if await queries.MAIL.first(mail_id) is None:
                raise NotFound(f"no mail {mail_id}")
            raise InputError("mail", "only a dead mail can be sent again")
        await audit(actor, "web", "mail.retry", f"mail:{mail_id}")
    notify_delivery()


async def list_suppressions(limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    rows = await queries.SUPPRESSIONS.fetch(limit, offset)
    for row in rows:
        row["created_at"] = _when(row["created_at"])
    return rows


async def suppression_count() -> int:
    row = await queries.SUPPRESSION_COUNT.first()
    return int(row["n"]) if row else 0


async def add_suppression(address: str, actor: str, now: datetime | None = None) -> str:
    """An admin puts an address on the list (a customer asked by phone, a known bad
    address); the address as stored."""
    normalized = normalize_address(address)
    if normalized is None:
        raise InputError("address", "enter one email address, like name@example.com")
    async with write_transaction():
        added = await suppress_person(
            normalized, SuppressionReason.imported.value, f"added by {actor}", now or utcnow()
        )
        if not added:
            raise InputError("address", f"{normalized} is on the list already")
        await audit(actor, "web", "mail.suppress", normalized)
    return normalized


async def remove_suppression(address: str, actor: str) -> str:
    """An admin takes an address off the list (it was added by mistake, or the person asked
    to get the mails again)."""
    normalized = address.strip().lower()
    async with write_transaction():
        if not await unsuppress(normalized):
            raise InputError("address", f"{normalized} is not on the list")
        await audit(actor, "web", "mail.unsuppress", normalized)
    return normalized
