"""Signing webhook bodies the way Stripe and Slack sign theirs: an HMAC-SHA256, under the
endpoint's secret, over the send's Unix time, a dot and the exact body bytes, sent as

    Feedback-Signature: t=1767225600,v1=5257a869e7ec...e108d8bd  (64 hex digits)

A receiver recomputes the HMAC over the body it received, compares in constant time, and
refuses a time outside its replay window (docs/webhooks.md has the code in Python and Node).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Feedback-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SCHEME = "v1"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh endpoint secret: `whsec_` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Feedback-Signature` header's value for `body` sent at `timestamp`."""
    return f"t={int(timestamp)},{SCHEME}={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance` seconds of
    `now`. Several `v1=` values are accepted (one per secret while a secret is rotated);
    other schemes are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures or abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    # every candidate compared, in constant time, so the answer's timing says nothing
    wanted = expected.encode("ascii")
    matches = [
        hmac.compare_digest(wanted, candidate.encode("utf-8", "replace"))
        for candidate in signatures
    ]
    return any(matches)
