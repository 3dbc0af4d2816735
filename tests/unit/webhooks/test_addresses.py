"""The address guard: which URLs an endpoint may have, and which addresses a delivery may
connect to."""

from __future__ import annotations

import ipaddress

import pytest

from feedback.kernel.errors import InputError
from feedback.webhooks.addresses import (
    AddressRefused,
    GuardedResolver,
    check_url,
    refusal,
    resolve_and_check,
)

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "0.0.0.0",  # noqa: S104
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "100.64.0.1",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "11.0.0.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_internal_addresses(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(InputError) as refused:
        check_url(f"https://{host}/hook", allow_private=False)
    assert refused.value.field == "url"
    assert "FEEDBACK_WEBHOOK_ALLOW_PRIVATE" in refused.value.message


@pytest.mark.parametrize("address", REFUSED)
def test_allow_private_lets_them_through(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    assert check_url(f"http://{host}:8080/hook", allow_private=True).startswith("http://")


@pytest.mark.parametrize("address", ALLOWED)
def test_it_allows_public_addresses(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    host = f"[{address}]" if ":" in address else address
    assert check_url(f"https://{host}/hook", allow_private=False) == f"https://{host}/hook"


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1"])
def test_it_sees_through_numeric_spellings_of_loopback(host: str) -> None:
    with pytest.raises(InputError):
        check_url(f"http://{host}/", allow_private=False)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
def test_it_refuses_localhost_by_name(host: str) -> None:
    with pytest.raises(InputError):
        check_url(f"http://{host}/", allow_private=False)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "enter the URL"),
        ("ftp://example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://", "add the host"),
        ("https://user:pw@example.com/", "user name and password"),
        ("https://example.com:99999/", "not a URL"),
        ("https://exa mple.com/", "spaces"),
        ("https://example..com/", "not valid"),
        ("https://example.com/" + "x" * 2000, "at most 2000"),
    ],
)
def test_it_says_what_is_wrong_with_a_url(url: str, says: str) -> None:
    with pytest.raises(InputError) as refused:
        check_url(url, allow_private=False)
    assert refused.value.field == "url"
    assert says in refused.value.message


def test_it_normalises_scheme_host_and_fragment() -> None:
    assert check_url("HTTPS://Hooks.Example.COM/in?x=1#top", False) == (
        "https://hooks.example.com/in?x=1"
    )
    assert check_url("https://bücher.example/", False) == "https://xn--bcher-kva.example/"
    assert check_url("https://example.com", False) == "https://example.com/"
    assert check_url("https://[2606:4700:4700:0::1111]:8443/h", False) == (
        "https://[2606:4700:4700::1111]:8443/h"
    )


async def test_a_name_resolving_to_loopback_is_refused_at_send_time() -> None:
    with pytest.raises(AddressRefused):
        await resolve_and_check("localhost", 80, allow_private=False)
    with pytest.raises(AddressRefused):
        await GuardedResolver(allow_private=False).resolve("localhost", 80)
    assert await GuardedResolver(allow_private=True).resolve("localhost", 80)
    assert await resolve_and_check("127.0.0.1", 80, allow_private=True)
