"""The signed unsubscribe token: it names its address, and nothing else passes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from feedback.mail.enqueue import address_of_token, normalize_address, unsubscribe_token


@given(st.emails())
def test_a_token_names_its_address(address: str) -> None:
    assert address_of_token(unsubscribe_token(address)) == address.strip().lower()


def test_a_changed_address_or_signature_is_refused() -> None:
    token = unsubscribe_token("hana@customer.example")
    other = unsubscribe_token("ken@customer.example")
    assert address_of_token(other.split(".")[0] + "." + token.split(".")[1]) is None
    assert address_of_token(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    for junk in ["", ".", "abc", "abc.", ".abc", "%%%.abc", "x" * 2000]:
        assert address_of_token(junk) is None


def test_addresses_are_lower_cased_and_internationalised_domains_encoded() -> None:
    assert normalize_address(" Hana@Customer.Example ") == "hana@customer.example"
    assert normalize_address("hana@bücher.example") == "hana@xn--bcher-kva.example"
    assert normalize_address("はな@customer.example") is None
