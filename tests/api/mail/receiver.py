"""A real SMTP server on loopback for the mail tests: aiosmtpd listening on a free TCP port
(in a thread of this process, or as a child process for the system tests), recording every
message it accepts, with the faults a relay shows: 4xx replies for a while, 5xx for some
recipients, a slow DATA, and STARTTLS with a self-signed certificate."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.processes import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """aiosmtpd's handler: records what it accepts; `temporary_failures` DATA commands are
    answered 451 first, recipients in `unknown` 550; with `hold_after`, the relay takes that
    many mails and then holds every DATA unanswered until `released` is set (a relay stuck
    mid-batch, whatever the machine's speed)."""

    temporary_failures: int = 0
    unknown: set[str] = field(default_factory=set)
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    tls_sessions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.unknown:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hold_after is not None and len(self.received) >= self.hold_after:
            await asyncio.to_thread(self.released.wait)  # the test sets it from its thread
        with self._lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return "451 4.3.0 try again later"
            if session.ssl is not None:
                self.tls_sessions += 1
            content = envelope.original_content or envelope.content or b""
            data = content if isinstance(content, bytes) else content.encode()
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 2.0.0 accepted"

    def message_ids(self) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received]


class Receiver:
    """The server, started on a free port; `url` is the FEEDBACK_SMTP_URL that reaches it."""

    def __init__(self, recorder: Recorder | None = None, tls: ssl.SSLContext | None = None):
        self.recorder = recorder or Recorder()
        self.port = free_port()
        kwargs: dict[str, Any] = {"decode_data": False}
        if tls is not None:
            kwargs["tls_context"] = tls
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.recorder.released.set()  # a held DATA must not keep the server from stopping
        self.controller.stop()


def self_signed_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for 127.0.0.1 made now: the server's context, and a client context that
    trusts exactly it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
