"""Who the client is behind the proxies the service trusts, and its rate-limit bucket."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from feedback.ratelimit import client_address, client_bucket, resolve_client

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        # without trusted proxies the header is ignored
        ("203.0.113.9", ["198.51.100.1"], (), "203.0.113.9"),
        # a peer that is not a trusted proxy: its header is ignored too
        ("203.0.113.9", ["198.51.100.1"], PROXIES, "203.0.113.9"),
        ("10.0.0.2", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        # what the client wrote itself sits left of what the proxies added
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1, 10.9.9.9"], PROXIES, "198.51.100.1"),
        # every hop trusted: the left-most is the best known
        ("10.0.0.2", ["10.1.1.1, 10.2.2.2"], PROXIES, "10.1.1.1"),
        # garbage in the header: the nearest proxy is the client
        ("10.0.0.2", ["not-an-address"], PROXIES, "10.0.0.2"),
        ("10.0.0.2", [], PROXIES, "10.0.0.2"),
        ("fd00::1", ["[2001:db8::7]:5555"], PROXIES, "2001:db8::7"),
        ("10.0.0.2", ["198.51.100.1:443"], PROXIES, "198.51.100.1"),
        ("::ffff:203.0.113.9", [], (), "203.0.113.9"),
        (None, [], PROXIES, "-"),
        ("testclient", [], PROXIES, "testclient"),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str | None, forwarded: list[str], trusted: tuple, client: str
) -> None:
    assert resolve_client(peer, forwarded, trusted) == client


def test_an_asgi_scope_gives_its_peer_and_forwarded_headers() -> None:
    scope = {
        "client": ("10.0.0.2", 5000),
        "headers": [(b"x-forwarded-for", b"198.51.100.1"), (b"origin", b"https://a.example")],
    }
    assert client_address(scope, PROXIES) == "198.51.100.1"
    assert client_address(scope, ()) == "10.0.0.2"
    assert client_address({"client": None, "headers": []}, PROXIES) == "-"


def test_ipv6_clients_share_a_bucket_per_64() -> None:
    assert client_bucket("2001:db8:0:1::1") == client_bucket("2001:db8:0:1:ffff::2")
    assert client_bucket("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    assert client_bucket("2001:db8:0:2::1") != client_bucket("2001:db8:0:1::1")
    assert client_bucket("198.51.100.1") == "198.51.100.1"
    assert client_bucket("-") == "-"
