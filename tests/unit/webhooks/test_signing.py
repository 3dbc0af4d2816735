"""Signatures: what `sign` writes, `verify_signature` and an independent check accept, and
what they refuse (a changed body, an old or future time, another secret, a bad header)."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from feedback.webhooks.signing import new_secret, sign, verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"id":"evt_1","type":"response.created"}'
NOW = 1_767_225_600


def test_the_header_carries_the_time_and_an_hmac_of_time_dot_body() -> None:
    header = sign(SECRET, NOW, BODY)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_it_accepts_its_own_signature_within_the_window() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify_signature(SECRET, header, BODY, NOW)
    assert verify_signature(SECRET, header, BODY, NOW + 300)
    assert verify_signature(SECRET, header, BODY, NOW - 300)


def test_it_refuses_a_tampered_body() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b"evt_1", b"evt_2"), NOW)
    assert not verify_signature(SECRET, header, BODY + b" ", NOW)


def test_it_refuses_an_old_or_future_timestamp() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY, NOW + 301)
    assert not verify_signature(SECRET, header, BODY, NOW - 301)
    assert not verify_signature(SECRET, header, BODY, NOW + 61, tolerance=60)


def test_it_refuses_a_changed_timestamp_with_the_old_hmac() -> None:
    digest = sign(SECRET, NOW, BODY).split("v1=")[1]
    assert not verify_signature(SECRET, f"t={NOW + 1},v1={digest}", BODY, NOW)


def test_it_refuses_another_secret() -> None:
    assert not verify_signature("whsec_other", sign(SECRET, NOW, BODY), BODY, NOW)


def test_it_accepts_any_of_several_signatures_while_a_secret_is_rotated() -> None:
    old = sign("whsec_old", NOW, BODY).split(",")[1]
    header = f"{sign(SECRET, NOW, BODY)},{old},v0=ignored"
    assert verify_signature(SECRET, header, BODY, NOW)
    assert verify_signature("whsec_old", header, BODY, NOW)


def test_it_refuses_malformed_headers() -> None:
    for header in ["", "t=,v1=", f"t={NOW}", "v1=abc", f"t=x{NOW},v1=abc", f"t={NOW},v1=é"]:
        assert not verify_signature(SECRET, header, BODY, NOW)


def test_new_secrets_are_prefixed_and_random() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and len(first) == len("whsec_") + 43
    assert first != second


@given(st.binary(max_size=512), st.integers(min_value=0, max_value=2**33), st.text(min_size=1))
def test_any_body_and_time_round_trip(body: bytes, timestamp: int, secret: str) -> None:
    header = sign(secret, timestamp, body)
    assert verify_signature(secret, header, body, timestamp)
    assert not verify_signature(secret, header, body + b"x", timestamp)
