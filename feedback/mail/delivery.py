"""Delivering mail over SMTP with the Slack outbox's guarantees (see
docs/design/outbox-slack-delivery.md):

- Claiming: a batch of due mails is claimed with a lease (`claimed_until`); on PostgreSQL
  with `FOR UPDATE SKIP LOCKED`, on SQLite inside an IMMEDIATE transaction, so two workers
  never claim the same mail. A worker killed after claiming loses nothing: the lease runs
  out and another worker (or the restarted one) sends the mail. A worker whose lease is
  nearly over gives the rest of its batch back rather than race the next claimant.
- One SMTP connection per batch: STARTTLS when a `smtp://` server offers it, TLS from the
  first byte for `smtps://`, AUTH when the URL names a user.
- Failures: a 4xx reply or a dropped/refused connection retries with capped exponential
  backoff for FEEDBACK_MAIL_RETRY_HOURS after the mail's first failure, then the mail is
  dead. A 5xx reply is permanent: dead at once, shown to admins with the server's words; a
  5xx on RCPT saying the mailbox does not exist (550, 551, 553) also puts the address on
  the suppression list as a hard bounce.
- Consent: a program mail's address is checked against the suppression list again just
  before it is sent (the person may have unsubscribed after it was queued): one query for
  the next 32 mails of the batch, read again once it is half a second old (`ConsentCheck`).
- Recording: sends are recorded in groups, one write transaction each, while the next mails
  go (`SendRecorder`): on PostgreSQL whatever was sent while the last group was written, on
  SQLite at least 16 at a time (each transaction there opens a connection and waits its turn
  at the file's one write lock, which two workers otherwise spend their time taking turns at).

The one window SMTP leaves open: a worker killed after the server accepted a mail and before
it recorded the send sends that mail again once the lease runs out. That is at most
`most_unrecorded` mails (4 on PostgreSQL, 32 on SQLite by default), counting the one in
flight: a worker with that many unrecorded waits for the database before it sends another.
The Message-ID is the same every time, so the receiving side can tell.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import random
import secrets
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib

from feedback.db import as_utc_datetime, is_sqlite, write_transaction
from feedback.db.errors import database_unavailable
from feedback.kernel.clock import Clock, utcnow
from feedback.mail import queries
from feedback.mail.enqueue import on_enqueue, suppress, unsubscribe_url
from feedback.mail.models import MailKind, SuppressionReason
from feedback.settings import Settings, SmtpURL

log = logging.getLogger("feedback.mail")

Sleep = Callable[[float], Awaitable[Any]]

# RCPT replies that say the mailbox does not exist (RFC 5321 4.2.2): no retry will help, and
# mailing it again hurts the sender's reputation
MAILBOX_UNKNOWN = frozenset({550, 551, 553})
RECORD_RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    id: int
    key: str
    kind: str
    to_address: str
    to_name: str
    from_name: str
    reply_to: str | None
    subject: str
    text: str
    html: str | None
    locale: str
    message_id: str
    attempts: int
    failing_since: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedMail:
        since = row["failing_since"]
        return cls(
            id=int(row["id"]),
            key=row["key"],
            kind=row["kind"],
            to_address=row["to_address"],
            to_name=row["to_name"] or "",
            from_name=row["from_name"] or "",
            reply_to=row["reply_to"],
            subject=row["subject"],
            text=row["text"],
            html=row["html"],
            locale=row["locale"] or "en",
            message_id=row["message_id"] or "",
            attempts=int(row["attempts"]),
            failing_since=as_utc_datetime(since) if since is not None else None,
        )


def render_message(mail: ClaimedMail, from_address: str, now: datetime) -> bytes:
    """The mail as it goes over the wire: From the CSM's name at the service's address,
    Reply-To the CSM, a plain-text part and (when given) an HTML alternative, and on program
    mails the one-click unsubscribe headers of RFC 8058. Names and subjects outside ASCII are
    encoded words (RFC 2047); the parts are UTF-8 in base64; lines end in CRLF.

    Written out here rather than by the email package's generator: `EmailMessage` took
    about 4.5 ms a message on the development machine and the compat32 classes 1.9 ms, this
    under 0.1 ms, which shows when a burst of mails goes out (bench/mail_burst.py)."""
    headers = [
        ("From", formataddr((_one_line(mail.from_name), from_address), charset="utf-8")),
        ("To", formataddr((_one_line(mail.to_name), mail.to_address), charset="utf-8")),
    ]
    if mail.reply_to:
        reply_to = formataddr((_one_line(mail.from_name), _one_line(mail.reply_to)), "utf-8")
        headers.append(("Reply-To", reply_to))
    subject = _one_line(mail.subject)
    if not subject.isascii() or len(subject) > 900:
        subject = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    headers += [
        ("Subject", subject),
        ("Date", format_datetime(now)),
        ("Message-ID", _one_line(mail.message_id)),
    ]
    if mail.kind == MailKind.program.value:
        mailto = f"mailto:{from_address}?subject=unsubscribe"
        headers.append(("List-Unsubscribe", f"<{unsubscribe_url(mail.to_address)}>, <{mailto}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers += [("Content-Language", _one_line(mail.locale)), ("MIME-Version", "1.0")]
    lines = [f"{name}: {value}" for name, value in headers]
    if mail.html:
        boundary = f"=_part_{secrets.token_hex(12)}"
        lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
        for subtype, content in (("plain", mail.text), ("html", mail.html)):
            lines += [f"--{boundary}", *_text_part(subtype, content)]
        lines += [f"--{boundary}--", ""]
    else:
        lines += _text_part("plain", mail.text)
    return "\r\n".join(lines).encode("ascii")


def _text_part(subtype: str, content: str) -> list[str]:
    encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii")
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        *encoded.splitlines(),
        "",
    ]


def _one_line(value: str) -> str:
    """A header value on one line: a line break in a name or subject must not start a
    header of its own."""
    return " ".join(value.split()) if any(c in value for c in "\r\n\t\v\f") else value


class SmtpFailure(Exception):
    """What the server (or the network) said: `permanent` for a 5xx reply, `bounced` when
    it said the mailbox does not exist, `connection` when the connection is gone."""

    def __init__(
        self,
        error: str,
        *,
        permanent: bool = False,
        bounced: bool = False,
        connection: bool = False,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.bounced = bounced
        self.connection = connection


def _failure(exc: Exception) -> SmtpFailure:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused is not None else 550
        text = refused.message if refused is not None else str(exc)
        return SmtpFailure(
            f"{code} {text}".strip(), permanent=code >= 500, bounced=code in MAILBOX_UNKNOWN
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return SmtpFailure(
            f"{exc.code} {exc.message}",
            permanent=exc.code >= 500,
            bounced=exc.code in MAILBOX_UNKNOWN,
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return SmtpFailure(f"{type(exc).__name__}: {exc}", connection=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SmtpFailure(f"{exc.code} {exc.message}", permanent=exc.code >= 500)
    # time-outs, refused connections, TLS errors: the connection is unusable, retry later
    return SmtpFailure(f"{type(exc).__name__}: {exc}".strip(": "), connection=True)


class SendRecorder:
    """Sends the server accepted, recorded a group at a time: each group in one write
    transaction, written while the next mails go.

    A group is written once `least` sends wait (or the oldest has waited `linger_seconds`,
    or the batch is over), and holds whatever was sent while the group before it was being
    written: on PostgreSQL (`least` 1) as large as the database is slow, on SQLite larger,
    since every transaction there opens a connection and takes a turn at the file's one
    write lock. `room()` waits before a send while `most_unrecorded` sends are unrecorded:
    what a worker killed mid-batch sends again once its lease runs out (its unrecorded sends,
    and the one in flight) is then at most `most_unrecorded` mails, whatever the database's
    speed."""

    def __init__(
        self,
        write: Callable[[list[tuple[int, datetime]]], Awaitable[None]],
        *,
        least: int,
        most_unrecorded: int,
        linger_seconds: float,
    ) -> None:
        self._write = write
        self.most_unrecorded = max(most_unrecorded, 1)
        self.least = min(max(least, 1), self.most_unrecorded)
        self.linger_seconds = linger_seconds
        self._waiting: list[tuple[int, datetime]] = []
        self._writing = 0
        self._enough = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.groups = 0

    @property
    def unrecorded(self) -> int:
        return len(self._waiting) + self._writing

    def sent(self, mail_id: int, sent_at: datetime) -> None:
        self._waiting.append((mail_id, sent_at))
        if len(self._waiting) >= self.least:
            self._enough.set()
        self._start()

    async def room(self) -> None:
        while self.unrecorded >= self.most_unrecorded:
            self._enough.set()
            self._start()
            assert self._task is not None
            await asyncio.wait([self._task])

    async def finish(self) -> None:
        """Wait until every send is recorded; raise what a write raised."""
        while self._waiting or (self._task is not None and not self._task.done()):
            self._enough.set()
            self._start()
            assert self._task is not None
            await asyncio.wait([self._task])
        if self._error is not None:
            raise self._error

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._waiting:
            if len(self._waiting) < self.least and not self._enough.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._enough.wait(), self.linger_seconds)
            self._enough.clear()
            group, self._waiting = self._waiting, []
            self._writing = len(group)
            try:
                await self._write(group)
                self.groups += 1
            except Exception as exc:  # these sends go again once the lease runs out
                self._error = self._error or exc
                log.exception("mail: recording %s sends failed", len(group))
                return
            finally:
                self._writing = 0


class ConsentCheck:
    """The suppression list read for the next `group` mails of a batch in one query, and
    read again once that is `fresh_seconds` old: a program mail goes out at most that long
    (or one send's time) after its address was last found unsuppressed."""

    def __init__(
        self,
        read: Callable[[list[ClaimedMail]], Awaitable[dict[int, str]]],
        fresh_seconds: float,
        group: int = 32,
    ) -> None:
        self._read = read
        self.fresh_seconds = fresh_seconds
        self.group = group
        self._reasons: dict[int, str] = {}  # by the mail's id
        self._until = 0  # the index of the first mail not covered by the last read
        self._read_at = float("-inf")

    async def reason(self, mails: list[ClaimedMail], index: int) -> str | None:
        mail = mails[index]
        if mail.kind != MailKind.program.value:
            return None
        started = asyncio.get_running_loop().time()
        if index >= self._until or started - self._read_at > self.fresh_seconds:
            covered = mails[index : index + self.group]
            self._reasons = await self._read(covered)
            self._until = index + len(covered)
            self._read_at = started
        return self._reasons.get(mail.id)

    def expire(self) -> None:
        self._until = 0


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)


class MailDeliverer:
    """One per worker process (and one inside `feedback serve` by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        batch_size: int | None = None,
        record_group: int | None = None,
        most_unrecorded: int | None = None,
        recheck_seconds: float = 0.5,
        backoff_seconds: float = 30.0,
        max_backoff_seconds: float = 3600.0,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = timedelta(seconds=settings.mail.lease_seconds)
        # on SQLite every claim is a turn at the file's one write lock: fewer, larger ones
        self.batch_size = batch_size or (200 if is_sqlite() else 50)
        # on SQLite every transaction opens a connection and waits its turn at the file's
        # write lock (the other worker's commit, then the busy handler's sleep): sends are
        # recorded in larger groups, and more may wait unrecorded, or the sending stalls
        self.record_group = record_group or (16 if is_sqlite() else 1)
        self.most_unrecorded = most_unrecorded or (32 if is_sqlite() else 4)
        self.recheck_seconds = recheck_seconds
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.tls_context = tls_context
        self.clock = clock
        self._sleep = sleep
        self._wake = asyncio.Event()
        self.totals = Outcome()

    def kick(self) -> None:
        self._wake.set()

    # -- claiming ---------------------------------------------------------------------

    async def claim(self, now: datetime) -> list[ClaimedMail]:
        async with write_transaction():
            rows = await queries.CLAIM.fetch(
                self.worker_id, now + self.lease, now, now, self.batch_size
            )
        return sorted((ClaimedMail.from_row(row) for row in rows), key=lambda mail: mail.id)

    # -- sending ----------------------------------------------------------------------

    async def deliver_once(self) -> Outcome:
        """Claim a batch of due mails and send them through one connection. Without SMTP
        configured nothing is claimed: the mails wait on the outbox page."""
        outcome = Outcome()
        smtp_url = self.settings.mail.smtp
        if smtp_url is None:
            return outcome
        now = self.clock()
        mails = await self.claim(now)
        if not mails:
            return outcome
        lease_end = now + self.lease
        client: aiosmtplib.SMTP | None = None
        connect_error: SmtpFailure | None = None
        sends = SendRecorder(
            self._write_sends,
            least=self.record_group,
            most_unrecorded=self.most_unrecorded,
            linger_seconds=self.recheck_seconds,
        )
        consent = ConsentCheck(self._suppressions, self.recheck_seconds)
        try:
            for index, mail in enumerate(mails):
                if self.clock() >= lease_end - self.lease / 4:
                    # the next claimant may take these soon: give them back untried
                    await self._release(mails[index:])
                    outcome.released += len(mails) - index
                    break
                reason = await consent.reason(mails, index)
                if reason is not None:
                    await self._dead(mail, f"not sent: the address is suppressed ({reason})")
                    outcome.dead += 1
                    continue
                if client is None and connect_error is None:
                    try:
                        client = await self._connect(smtp_url)
                    except Exception as exc:
                        connect_error = _failure(exc)
                if connect_error is not None:
                    result = await self._failed(mail, connect_error)
                else:
                    assert client is not None
                    await sends.room()
                    result, broken = await self._send(client, mail, sends)
                    if broken:
                        with contextlib.suppress(Exception):
                            client.close()
                        client = None
                if result == "dead":
                    consent.expire()  # a hard bounce may have suppressed an address just now
                setattr(outcome, result, getattr(outcome, result) + 1)
        finally:
            try:
                await sends.finish()
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.quit()
        for name in ("sent", "retried", "dead", "released"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(outcome, name))
        return outcome

    async def _connect(self, url: SmtpURL) -> aiosmtplib.SMTP:
        timeout = max(min(30.0, self.lease.total_seconds() / 4), 1.0)
        if self.tls_context is None:  # loading the system's certificates takes ~0.1 s
            self.tls_context = ssl.create_default_context()
        return await connect(url, self.settings.public_url, timeout, self.tls_context)

    async def _suppressions(self, mails: list[ClaimedMail]) -> dict[int, str]:
        """Why these program mails' addresses get no mail now, where one does not: the
        reason by the mail's id, read in one query."""
        # addresses are stored as enqueue_mail normalized them (lower-case, IDNA)
        addresses = {
            mail.id: mail.to_address for mail in mails if mail.kind == MailKind.program.value
        }
        if not addresses:
            return {}
        listed = sorted(set(addresses.values()))
        rows = await queries.SUPPRESSED_AMONG.fetch(json.dumps(listed) if is_sqlite() else listed)
        reasons = {row["address"]: str(row["reason"]) for row in rows}
        return {mail_id: reasons[a] for mail_id, a in addresses.items() if a in reasons}

    async def _send(
        self, client: aiosmtplib.SMTP, mail: ClaimedMail, sends: SendRecorder
    ) -> tuple[str, bool]:
        """Send one claimed mail and hand a send to `sends` to record (with others, while
        the next mails go); also whether the connection is broken."""
        now = self.clock()
        try:
            message = render_message(mail, self.settings.mail.from_address, now)
        except UnicodeEncodeError as exc:  # an address outside ASCII (SMTPUTF8 is not used)
            await self._dead(mail, f"cannot be written as a mail: {exc}")
            return "dead", False
        try:
            await client.sendmail(self.settings.mail.from_address, [mail.to_address], message)
        except Exception as exc:
            failure = _failure(exc)
            if not failure.connection:
                try:  # the server expects a fresh transaction after a refusal
                    await client.rset()
                except Exception:
                    failure.connection = True
            return await self._failed(mail, failure), failure.connection
        sends.sent(mail.id, self.clock())
        return "sent", False

    async def _write_sends(self, group: list[tuple[int, datetime]]) -> None:
        """A group of sends recorded in one write transaction."""
        rows = [(sent_at, mail_id, self.worker_id) for mail_id, sent_at in group]

        async def write() -> None:
            async with write_transaction():
                await queries.MARK_SENT.run_many(rows)

        await self._record(write)

    async def _failed(self, mail: ClaimedMail, failure: SmtpFailure) -> str:
        now = self.clock()
        if failure.permanent:
            if failure.bounced and mail.kind == MailKind.program.value:
                await suppress(
                    mail.to_address, SuppressionReason.hard_bounce.value, failure.error[:200], now
                )
            await self._dead(mail, failure.error)
            return "dead"
        since = mail.failing_since or now
        hours = self.settings.mail.retry_hours
        if now - since >= timedelta(hours=hours):
            await self._dead(mail, f"failing for over {hours} h: {failure.error}")
            return "dead"
        exponent = min(max(mail.attempts - 1, 0), 30)
        delay = min(self.backoff_seconds * 2**exponent, self.max_backoff_seconds)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        later = now + timedelta(seconds=delay)
        await self._record(
            lambda: queries.MARK_RETRY.run(
                later, failure.error[:2000], now, mail.id, self.worker_id
            )
        )
        log.warning("mail %s attempt %s failed: %s", mail.id, mail.attempts, failure.error)
        return "retried"

    async def _release(self, mails: list[ClaimedMail]) -> None:
        for mail in mails:
            await self._record(functools.partial(queries.RELEASE.run, mail.id, self.worker_id))

    async def _dead(self, mail: ClaimedMail, error: str) -> None:
        log.error("mail %s is dead: %s", mail.id, error)
        await self._record(lambda: queries.MARK_DEAD.run(error[:2000], mail.id, self.worker_id))

    async def _record(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """A write recording what the server has already done. While the database is
        unreachable it is tried again (for up to half the lease) rather than failing: an
        unrecorded send is sent again once the lease runs out."""
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds() / 2
        while True:
            try:
                return await write()
            except Exception as exc:
                if not database_unavailable(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
                await self._sleep(RECORD_RETRY_SECONDS)

    # -- the loop -------------------------------------------------------------------------

    async def deliver_due(self, rounds: int = 1000) -> Outcome:
        """Batches until nothing is due now (`feedback worker --once`)."""
        total = Outcome()
        for _ in range(rounds):
            outcome = await self.deliver_once()
            for name in ("sent", "retried", "dead", "released"):
                setattr(total, name, getattr(total, name) + getattr(outcome, name))
            if not (outcome.sent or outcome.retried or outcome.dead or outcome.released):
                break
        return total

    async def run(self, stop: asyncio.Event, idle_seconds: float = 2.0) -> None:
        """Deliver until `stop` is set: batch after batch while mail is due, then wait for
        `idle_seconds` (mail queued by other processes, retries coming due) or until this
        process queues a mail."""
        stop_listening = on_enqueue(self.kick)
        try:
            while not stop.is_set():
                busy = False
                try:
                    outcome = await self.deliver_once()
                    busy = bool(outcome.sent or outcome.retried or outcome.dead)
                except Exception:  # the database restarting must not end the loop
                    log.exception("mail: delivery round failed")
                if busy:
                    continue
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(waits, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
        finally:
            stop_listening()


async def connect(
    url: SmtpURL, public_url: str, timeout_seconds: float, tls_context: ssl.SSLContext | None = None
) -> aiosmtplib.SMTP:
    """A connection to the relay, greeted with the service's host name: TLS from the first
    byte for smtps://, STARTTLS when a smtp:// server offers it, AUTH when the URL names a
    user."""
    client = aiosmtplib.SMTP(
        hostname=url.host,
        port=url.port,
        use_tls=url.use_tls,
        start_tls=None,  # STARTTLS when a smtp:// server offers it
        tls_context=tls_context or ssl.create_default_context(),
        timeout=timeout_seconds,
        local_hostname=urlsplit(public_url).hostname or socket.getfqdn(),
    )
    await client.connect()
    if url.username:
        await client.login(url.username, url.password or "")
    return client


async def send_test_mail(
    settings: Settings, to_address: str, tls_context: ssl.SSLContext | None = None
) -> str:
    """One mail straight to the relay, not through the outbox (`feedback mail test`): what
    the server answered. Raises `SmtpFailure` with the server's words."""
    if settings.mail.smtp is None:
        raise SmtpFailure("SMTP is not configured: set FEEDBACK_SMTP_URL", permanent=True)
    now = utcnow()
    mail = ClaimedMail(
        id=0,
        key="test",
        kind=MailKind.test.value,
        to_address=to_address,
        to_name="",
        from_name="Feedback",
        reply_to=None,
        subject="Test mail from Feedback",
        text=(
            "This is a test mail from Feedback.\n\n"
            f"It went through {settings.mail.smtp.display()} at {now:%Y-%m-%d %H:%M} UTC.\n"
            "テストメール: 日本語も届きます。\n"
        ),
        html=None,
        locale="en",
        message_id=make_msgid(domain=urlsplit(settings.public_url).hostname or "localhost"),
        attempts=0,
        failing_since=None,
    )
    try:
        client = await connect(settings.mail.smtp, settings.public_url, 30.0, tls_context)
    except Exception as exc:
        raise _failure(exc) from exc
    try:
        _, reply = await client.sendmail(
            settings.mail.from_address,
            [to_address],
            render_message(mail, settings.mail.from_address, now),
        )
    except Exception as exc:
        raise _failure(exc) from exc
    finally:
        with contextlib.suppress(Exception):
            await client.quit()
    return reply
