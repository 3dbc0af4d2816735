"""Widget keys' identity secrets at rest: encrypted (Fernet: AES-128-CBC with an HMAC) under
a key derived from the service's secret key, so a copy of the database alone cannot sign
identities. Changing FEEDBACK_SECRET_KEY makes stored secrets unreadable: rotate them then."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from feedback.settings import get_settings

log = logging.getLogger("feedback.surveys")


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # a key of its own for this purpose, as the session and CSRF keys are derived
    digest = hashlib.sha256(("widget-identity-secret:" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def new_secret() -> str:
    """A fresh identity secret: 64 hex characters (256 bits)."""
    return secrets.token_hex(32)


def seal(secret: str, secret_key: str | None = None) -> str:
    return _fernet(secret_key or get_settings().secret_key).encrypt(secret.encode()).decode()


def unseal(sealed: str | None, secret_key: str | None = None) -> str | None:
    """The secret, or None when there is none or it was sealed under another service key."""
    if not sealed:
        return None
    try:
        return _fernet(secret_key or get_settings().secret_key).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        log.warning(
            "a widget key's identity secret cannot be decrypted (was FEEDBACK_SECRET_KEY "
            "changed?): rotate the key's secret"
        )
        return None
