"""Widget keys: which key a call came with, the origins it may come from, and the identity
check of keys that require it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache
from feedback.kernel.errors import Forbidden, Unauthenticated
from feedback.surveys.models import WidgetKey


@dataclass(frozen=True)
class KeyInfo:
    id: int
    key: str
    environment: str
    allowed_origins: tuple[str, ...]
    identity_secret: str | None
    require_identity: bool


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


async def _read_key(key: str) -> KeyInfo | None:
    row = (
        await WidgetKey.select(
            WidgetKey.id,
            WidgetKey.key,
            WidgetKey.environment,
            WidgetKey.allowed_origins,
            WidgetKey.identity_secret,
            WidgetKey.require_identity,
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
        identity_secret=row["identity_secret"],
        require_identity=row["require_identity"],
    )


def origin_allowed(key: KeyInfo, origin: str | None) -> bool:
    if "*" in key.allowed_origins:
        return True
    return origin is not None and origin.rstrip("/") in {o.rstrip("/") for o in key.allowed_origins}


def require_origin(key: KeyInfo, origin: str | None) -> None:
    if not origin_allowed(key, origin):
        raise Forbidden(
            "origin not allowed for this widget key",
            [{"field": "origin", "message": f"{origin!r} is not an allowed origin"}],
        )


def identity_hash(secret: str, user_id: str) -> str:
    """What the host application sends as `user_hash`: HMAC-SHA256(secret, user id), hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(key: KeyInfo, user_id: str, user_hash: str | None) -> None:
    if not key.require_identity:
        return
    if not user_hash or not key.identity_secret:
        raise Unauthenticated.for_field(
            "user_hash", "this widget key requires identity verification"
        )
    if not hmac.compare_digest(identity_hash(key.identity_secret, user_id), user_hash.lower()):
        raise Unauthenticated.for_field("user_hash", "does not match the user id")
