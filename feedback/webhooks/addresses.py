"""Where a webhook may be sent: only http(s) URLs, and never (unless FEEDBACK_WEBHOOK_ALLOW_PRIVATE)
to loopback, link-local, private, unspecified, multicast or reserved addresses, so an admin's
endpoint cannot be used to reach the service's own network.

Checked twice: when an endpoint is saved (`check_url`: the URL's syntax, its scheme and a
literal address), and when a delivery connects (`GuardedResolver`: every address the name
resolves to at that moment). The connection goes to an address the resolver checked, so a
name that resolves to a public address when saved and to 10.0.0.5 later (DNS rebinding) is
refused at send time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from feedback.kernel.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
# what inet_aton takes besides dotted quads: 2130706433, 0x7f.1, 127.1 (all 127.0.0.1)
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


class AddressRefused(Exception):
    """The endpoint's host is (or resolves to) an address webhooks may not reach."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to `address`, or None when they may (a global unicast
    address). An IPv4 address inside IPv6 (mapped, 6to4, Teredo) is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is not None:
            return refusal(inner)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address `host` names literally (including IPv4's short and numeric spellings,
    which resolvers accept), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, allow_private: bool) -> str:
    """The endpoint URL normalised (scheme and host lower-case, IDNA host, no fragment), or
    `InputError("url", ...)` saying what is wrong: not http(s), no host, credentials in it,
    a bad port, or (unless `allow_private`) a literal address webhooks may not reach or
    `localhost`. A host name is not resolved here; see `GuardedResolver`."""
    url = (url or "").strip()
    if not url:
        raise InputError(
            "url", "enter the URL that receives the events, e.g. https://example.com/hooks"
        )
    if len(url) > MAX_URL_LENGTH:
        raise InputError("url", f"use at most {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InputError("url", "remove the spaces and control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError as exc:
        raise InputError("url", f"not a URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError("url", "use an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InputError(
            "url", "remove the user name and password: the signature proves who sent the event"
        )
    if not host:
        raise InputError("url", "add the host name, e.g. https://example.com/hooks")
    address = literal_address(host)
    if address is None:
        try:
            host = host.rstrip(".").encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InputError("url", f"the host name {host!r} is not valid") from exc
        if not host or any(not label for label in host.split(".")):
            raise InputError("url", "the host name is not valid")
        if not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise InputError("url", _private_message("a loopback address"))
        netloc_host = host
    else:
        reason = refusal(address)
        if reason is not None and not allow_private:
            raise InputError("url", _private_message(reason))
        netloc_host = f"[{address}]" if address.version == 6 else str(address)
    netloc = netloc_host if port is None else f"{netloc_host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _private_message(reason: str) -> str:
    return (
        f"the host is {reason}; webhooks go only to public addresses unless "
        "FEEDBACK_WEBHOOK_ALLOW_PRIVATE=true"
    )


async def resolve_and_check(host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """The addresses `host` resolves to now, or `AddressRefused` when one of them may not be
    reached (one refused address refuses the host: a connection could pick any of them).
    A name that does not resolve raises `socket.gaierror` (an OSError: retried later)."""
    address = literal_address(host)
    if address is not None:
        found = [address]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not allow_private:
        for each in found:
            reason = refusal(each)
            if reason is not None:
                raise AddressRefused(f"refused: {host} is {reason} ({each})")
    return found


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for webhook deliveries: the addresses a name resolves to, each
    checked, so the connection is made to an address that passed (`AddressRefused`
    otherwise, which aiohttp passes through unchanged)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        results: list[ResolveResult] = []
        for info_family, _, proto, _, sockaddr in infos:
            if info_family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text = str(sockaddr[0])
            address = ipaddress.ip_address(text.split("%", 1)[0])
            reason = refusal(address)
            if reason is not None and not self.allow_private:
                raise AddressRefused(f"refused: {host} resolves to {reason} ({address})")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=text,
                    port=int(sockaddr[1]),
                    family=info_family,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"{host} has no address")
        return results

    async def close(self) -> None:
        return None


def check_literal_host(host: str, allow_private: bool) -> None:
    """`AddressRefused` when `host` is a literal address webhooks may not reach (aiohttp
    connects to literal addresses without asking the resolver)."""
    address = literal_address(host)
    if address is None or allow_private:
        return
    reason = refusal(address)
    if reason is not None:
        raise AddressRefused(f"refused: {host} is {reason}")
