"""Identity tokens and user hashes checked against a key's secrets (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from feedback.kernel.errors import InputError, Unauthenticated
from feedback.surveys.identity_secrets import seal, unseal
from feedback.surveys.keys import KeyInfo, identity_hash
from feedback.surveys.models import IdentityMode
from feedback.surveys.verification import verify

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
SECRET = "a" * 64
OLD = "b" * 64


def key(mode: IdentityMode, **extra: Any) -> KeyInfo:
    return KeyInfo(
        id=1,
        key="wk_live_x",
        environment="production",
        allowed_origins=("*",),
        identity=mode,
        identity_secret=SECRET,
        **extra,
    )


def token(secret: str = SECRET, lifetime: timedelta = timedelta(hours=1), **claims: Any) -> str:
    body = {"sub": "u-1", "account": "acct-1", "exp": int((NOW + lifetime).timestamp()), **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def test_a_signed_identity_gives_the_signed_values_only() -> None:
    who = verify(
        key(IdentityMode.signed),
        NOW,
        user_id=None,
        account_id=None,
        traits={"role": "owner", "team": "red"},
        identity_token=token(traits={"role": "admin"}),
    )
    assert (who.user_id, who.account_id, who.traits) == ("u-1", "acct-1", {"role": "admin"})
    assert who.trust is IdentityMode.signed


def test_a_key_that_trusts_the_browser_merges_traits_and_signed_ones_win() -> None:
    who = verify(
        key(IdentityMode.browser),
        NOW,
        user_id="u-1",
        account_id="acct-1",
        traits={"role": "owner", "team": "red"},
        identity_token=token(traits={"role": "admin"}),
    )
    assert who.traits == {"role": "admin", "team": "red"}


@pytest.mark.parametrize(
    "identity",
    [
        token(secret="c" * 64),
        token(lifetime=timedelta(hours=-2)),
        token(aud="wk_live_other"),
        token(sub=42),
        jwt.encode({"sub": "u-1", "account": "acct-1"}, SECRET, algorithm="HS256"),
        "a.b.c",
    ],
)
def test_a_bad_token_is_refused_naming_identity_token(identity: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        verify(key(IdentityMode.signed), NOW, user_id=None, account_id=None, traits={},
               identity_token=identity)  # fmt: skip
    assert refused.value.field == "identity_token"


def test_the_previous_secret_verifies_until_its_time() -> None:
    rotating = key(
        IdentityMode.signed, previous_secret=OLD, previous_secret_until=NOW + timedelta(days=1)
    )
    old_token = token(secret=OLD, lifetime=timedelta(days=3))
    args: dict[str, Any] = {"user_id": None, "account_id": None, "traits": {}}
    assert verify(rotating, NOW, identity_token=old_token, **args).user_id == "u-1"
    with pytest.raises(Unauthenticated):
        verify(rotating, NOW + timedelta(days=2), identity_token=old_token, **args)


def test_a_user_hash_proves_the_user_only() -> None:
    mode = key(IdentityMode.user_hash)
    who = verify(mode, NOW, user_id="u-1", account_id="a", traits={},
                 user_hash=identity_hash(SECRET, "u-1"))  # fmt: skip
    assert who.trust is IdentityMode.user_hash
    with pytest.raises(Unauthenticated) as wrong:
        verify(mode, NOW, user_id="u-1", account_id="a", traits={}, user_hash="ü" * 64)
    assert wrong.value.field == "user_hash"
    with pytest.raises(Unauthenticated) as missing:
        verify(mode, NOW, user_id="u-1", account_id="a", traits={})
    assert missing.value.field == "identity_token"
    with pytest.raises(InputError):
        verify(mode, NOW, user_id=None, account_id="a", traits={})


def test_a_sealed_secret_is_not_the_secret_and_needs_the_service_key() -> None:
    sealed = seal(SECRET, "service-key-one-0123")
    assert SECRET not in sealed
    assert unseal(sealed, "service-key-one-0123") == SECRET
    assert unseal(sealed, "service-key-two-0123") is None
