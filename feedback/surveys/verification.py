"""What a widget call proves about who is asking, and therefore what it may write.

- an `identity_token` (a compact HS256 JWT the host's server makes with the key's identity
  secret) proves the user id (`sub`), the account id (`account`) and the traits it signs
  (`traits`) until it expires (`exp`): those values are stored, the browser's are not;
- a `user_hash` (HMAC-SHA256 of the user id) proves the user id only: such a call never
  creates an account, never moves the user and never changes their traits;
- a key in `browser` mode takes the browser's word for everything (development, demos).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

import jwt
import msgspec

from feedback.kernel.errors import InputError, Unauthenticated
from feedback.surveys.keys import KeyInfo, identity_hash
from feedback.surveys.models import IdentityMode

MAX_TRAITS = 50
# tolerated difference between the host's clock and ours when checking `exp` and `iat`
CLOCK_SKEW_SECONDS = 60
TraitValue = str | int | float | bool | None
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SignedIdentity(msgspec.Struct, frozen=True):
    """The claims of an identity token this service reads (others are ignored)."""

    sub: Id
    account: Id
    exp: float
    traits: Annotated[dict[str, TraitValue], msgspec.Meta(max_length=MAX_TRAITS)] = {}
    aud: str | list[str] | None = None


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who a call is about, and how far its word is proven (`trust`)."""

    user_id: str
    account_id: str
    traits: dict[str, Any]
    trust: IdentityMode


def _refuse(message: str) -> Unauthenticated:
    return Unauthenticated(
        "identity_token: " + message,
        [{"field": "identity_token", "message": message}],
        field="identity_token",
        message=message,
    )


def read_identity_token(key: KeyInfo, token: str, now: datetime) -> SignedIdentity:
    """The token's claims when one of the key's secrets signed it and it has not expired."""
    secrets = key.secrets_at(now)
    if not secrets:
        raise _refuse("this widget key has no identity secret: rotate it on the widget keys page")
    claims: dict[str, Any] | None = None
    for secret in secrets:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                # the times are checked below against `now`, the service's clock
                options={
                    "require": ["exp"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.MissingRequiredClaimError:
            raise _refuse("has no expiry (exp)") from None
        except jwt.InvalidTokenError as exc:
            raise _refuse(f"is not a valid HS256 token ({exc})") from None
    if claims is None:
        raise _refuse("is not signed with this widget key's identity secret")
    try:
        identity = msgspec.convert(claims, SignedIdentity)
    except msgspec.ValidationError as exc:
        raise _refuse(f"has invalid claims: {exc}") from None
    if identity.exp + CLOCK_SKEW_SECONDS < now.timestamp():
        raise _refuse("has expired: make a new one on your server")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and not_before - CLOCK_SKEW_SECONDS > now.timestamp():
        raise _refuse("is not valid yet (nbf)")
    audience = identity.aud
    if audience is not None and key.key not in (
        [audience] if isinstance(audience, str) else audience
    ):
        raise _refuse("was made for another widget key (aud)")
    return identity


def verify(
    key: KeyInfo,
    now: datetime,
    *,
    user_id: str | None,
    account_id: str | None,
    traits: dict[str, Any],
    identity_token: str | None = None,
    user_hash: str | None = None,
) -> Identity:
    """The identity a widget call may act as, or a refusal naming the field at fault."""
    if identity_token:
        signed = read_identity_token(key, identity_token, now)
        if user_id is not None and user_id != signed.sub:
            raise _refuse("was signed for another user_id")
        if account_id is not None and account_id != signed.account:
            raise _refuse("was signed for another account_id")
        # signed traits win; the browser's are kept only where the key trusts the browser
        merged = (
            {**traits, **signed.traits}
            if key.identity is IdentityMode.browser
            else dict(signed.traits)
        )
        return Identity(
            user_id=signed.sub, account_id=signed.account, traits=merged, trust=IdentityMode.signed
        )
    if key.identity is IdentityMode.signed:
        raise _refuse("this widget key requires an identity_token made by your server")
    if user_id is None:
        raise InputError("user_id", "required (or send an identity_token)")
    if account_id is None:
        raise InputError("account_id", "required (or send an identity_token)")
    if key.identity is IdentityMode.browser:
        return Identity(
            user_id=user_id, account_id=account_id, traits=traits, trust=IdentityMode.browser
        )
    if not user_hash:
        raise _refuse("this widget key requires identity verification: send an identity_token")
    if not any(
        hmac.compare_digest(identity_hash(secret, user_id).encode(), user_hash.lower().encode())
        for secret in key.secrets_at(now)
    ):
        raise Unauthenticated.for_field("user_hash", "does not match the user id")
    return Identity(
        user_id=user_id, account_id=account_id, traits=traits, trust=IdentityMode.user_hash
    )
