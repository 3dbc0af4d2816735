"""Previews an admin starts: a short-lived token, signed with the service's secret key and
bound to one widget key, that lets the widget force the survey on the admin's own page
(`?nps_preview=<token>` on any page of the host product)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import jwt

from feedback.settings import get_settings

PREVIEW_LIFETIME_SECONDS = 3600
PREVIEW_QUERY_PARAMETER = "nps_preview"
_PURPOSE = "nps-preview"


def _signing_key() -> bytes:
    return hashlib.sha256(("widget-preview:" + get_settings().secret_key).encode()).digest()


def make_preview_token(widget_key: str, now: float | None = None) -> tuple[str, datetime]:
    """A preview token for `widget_key` and the moment it expires. It names no one: it ends
    up in the host's page addresses and logs (the audit log says who started it)."""
    issued = int(time.time() if now is None else now)
    expires = issued + PREVIEW_LIFETIME_SECONDS
    claims = {"purpose": _PURPOSE, "key": widget_key, "iat": issued, "exp": expires}
    token = jwt.encode(claims, _signing_key(), algorithm="HS256")
    return token, datetime.fromtimestamp(expires, UTC)


def is_preview_of(token: str | None, widget_key: str) -> bool:
    """Whether `token` is an unexpired preview this service signed for `widget_key`."""
    if not token:
        return False
    try:
        claims = jwt.decode(
            token, _signing_key(), algorithms=["HS256"], options={"require": ["exp", "key"]}
        )
    except jwt.InvalidTokenError:
        return False
    return claims.get("purpose") == _PURPOSE and claims.get("key") == widget_key
