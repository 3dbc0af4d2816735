"""Widget keys: which key a call came with, the origins it may come from, what it requires
callers to prove about who they are, and its identity secrets (see `verification`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from feedback.db import as_utc_datetime
from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache
from feedback.kernel.errors import Forbidden, Unauthenticated
from feedback.surveys.identity_secrets import unseal
from feedback.surveys.models import IdentityMode, WidgetKey


@dataclass(frozen=True)
class KeyInfo:
    id: int
    key: str
    environment: str
    allowed_origins: tuple[str, ...]
    identity: IdentityMode = IdentityMode.browser
    identity_secret: str | None = None  # decrypted, in memory only
    previous_secret: str | None = None  # during a rotation, until `previous_secret_until`
    previous_secret_until: datetime | None = None

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets that verify an identity now: the current one, then the previous."""
        found = [self.identity_secret] if self.identity_secret else []
        until = self.previous_secret_until
        if self.previous_secret and (until is None or until > now):
            found.append(self.previous_secret)
        return tuple(found)


# the development key `feedback demo` creates for the demo host page (/demo/host)
DEMO_WIDGET_KEY = "wk_demo_local"

_keys: TTLCache[KeyInfo | None] = TTLCache(CONFIG_TTL_SECONDS)


async def load_key(key: str) -> KeyInfo:
    info = await _keys.get(key, lambda: _read_key(key))
    if info is None:
        raise Unauthenticated(
            "unknown or disabled widget key", [{"field": "key", "message": "unknown"}]
        )
    return info


def identity_mode(identity: str | None, require_identity: bool) -> IdentityMode:
    """A key's mode; a key that requires verification never falls back to the browser."""
    mode = IdentityMode(identity or IdentityMode.browser.value)
    if mode is IdentityMode.browser and require_identity:
        return IdentityMode.user_hash
    return mode


async def _read_key(key: str) -> KeyInfo | None:
    row = (
        await WidgetKey.select(
            WidgetKey.id,
            WidgetKey.key,
            WidgetKey.environment,
            WidgetKey.allowed_origins,
            WidgetKey.require_identity,
            WidgetKey.identity,
            WidgetKey.identity_secret_sealed,
            WidgetKey.previous_secret_sealed,
            WidgetKey.previous_secret_until,
        )
        .where((WidgetKey.key == key) & (WidgetKey.active == True))  # noqa: E712
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return KeyInfo(
        id=row["id"],
        key=row["key"],
        environment=row["environment"],
        allowed_origins=tuple(row["allowed_origins"] or ()),
        identity=identity_mode(row["identity"], row["require_identity"]),
        identity_secret=unseal(row["identity_secret_sealed"]),
        previous_secret=unseal(row["previous_secret_sealed"]),
        previous_secret_until=as_utc_datetime(row["previous_secret_until"]),
    )


def origin_allowed(key: KeyInfo, origin: str | None) -> bool:
    if "*" in key.allowed_origins:
        return True
    return origin is not None and origin.rstrip("/") in {o.rstrip("/") for o in key.allowed_origins}


def require_origin(key: KeyInfo, origin: str | None) -> None:
    if not origin_allowed(key, origin):
        message = (
            "this request has no Origin header"
            if origin is None
            else f"{origin} is not an allowed origin of this widget key"
        )
        raise Forbidden(
            "origin not allowed for this widget key", [{"field": "origin", "message": message}]
        )


def identity_hash(secret: str, user_id: str) -> str:
    """What the host application sends as `user_hash`: HMAC-SHA256(secret, user id), hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
