"""Who a widget call may say it is: signed identity tokens, the legacy user hash, keys that
trust the browser, previews an admin started, and the keys' identity secrets at rest."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from feedback.accounts.models import Account, EndUser
from feedback.responses.models import Response
from feedback.surveys.keys import identity_hash
from feedback.surveys.models import Display, WidgetKey
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


@pytest.fixture
async def admin() -> dict[str, str]:
    from feedback.kernel.principal import Role

    return bearer(await token(Role.admin))


async def new_key(
    client: Any, admin: dict[str, str], environment: str = "production", **fields: Any
) -> dict[str, Any]:
    """A key made as an admin makes one (its secret is only in this answer)."""
    answer = await client.post(
        "/api/v1/widget-keys",
        headers=admin,
        json={
            "name": "web",
            "environment": environment,
            "allowed_origins": ["https://app.example.com"],
            **fields,
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def signed(secret: str, lifetime: int = 600, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + lifetime, **claims}, secret, algorithm="HS256")


async def check(client: Any, key: str, body: dict[str, Any], headers: Any = TEXT) -> Any:
    return await client.post(
        f"/widget/v1/{key}/eligibility", content=json.dumps(body), headers=headers
    )


async def user(external_id: str) -> dict[str, Any]:
    row = (
        await EndUser.select(EndUser.all_columns(), EndUser.account.external_id.as_alias("acct"))
        .where(EndUser.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return dict(row)


async def test_a_user_hash_cannot_move_its_user_to_another_account(
    client: Any, admin: dict[str, str]
) -> None:
    """The review's attack: a valid hash for a user of one company, another company's
    account id and forged traits."""
    await book()
    await widget_setup()
    key = await new_key(client, admin, identity="user_hash")
    forged = {
        "user_id": "u4",
        "account_id": "a1",
        "traits": {"role": "owner", "email": "boss@evil.test", "account_name": "Mine now"},
        "user_hash": identity_hash(key["identity_secret"], "u4"),
    }
    answer = await check(client, key["key"], forged)
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"][0]["field"] == "account_id"
    moved = await check(client, key["key"], {**forged, "account_id": "acct-new"})
    assert moved.status_code == 403
    u4 = await user("u4")
    assert (u4["acct"], u4["role"], u4["email"]) == ("b1", "admin", None)
    assert not await Account.exists().where(Account.external_id == "acct-new")
    assert await Display.count() == 0 and await Response.count() == 0
    # the user's own account is fine, and forged traits are not stored
    own = await check(client, key["key"], {**forged, "account_id": "b1"})
    assert own.status_code == 200, own.text
    assert (await user("u4"))["role"] == "admin"


async def test_a_user_hash_never_creates_an_account_or_a_user(
    client: Any, admin: dict[str, str]
) -> None:
    await widget_setup()
    key = await new_key(client, admin, identity="user_hash")
    answer = await check(
        client,
        key["key"],
        {
            "user_id": "someone",
            "account_id": "named-by-the-caller",
            "user_hash": identity_hash(key["identity_secret"], "someone"),
        },
    )
    assert answer.status_code == 403 and answer.json()["detail"][0]["field"] == "account_id"
    assert await Account.count() == 0 and await EndUser.count() == 0
    # nor places a new user in an account the browser names
    await Account(external_id="acct-1", name="Acme").save()
    placed = await check(
        client,
        key["key"],
        {
            "user_id": "new-sign-up",
            "account_id": "acct-1",
            "user_hash": identity_hash(key["identity_secret"], "new-sign-up"),
        },
    )
    assert placed.status_code == 403 and placed.json()["detail"][0]["field"] == "user_id"
    assert await EndUser.count() == 0


async def test_a_signed_identity_places_the_user_and_its_traits_win(
    client: Any, admin: dict[str, str]
) -> None:
    await book()
    await widget_setup()
    key = await new_key(client, admin)
    assert key["identity"] == "signed"
    identity = signed(
        key["identity_secret"],
        sub="u-9",
        account="acct-9",
        traits={"role": "admin", "account_name": "Nine KK", "team": "blue"},
    )
    answer = await check(
        client,
        key["key"],
        {
            "user_id": "u-9",
            "account_id": "acct-9",
            "traits": {"role": "viewer", "team": "red", "spoofed": "yes"},
            "identity_token": identity,
        },
    )
    assert answer.status_code == 200, answer.text
    made = await user("u-9")
    assert (made["acct"], made["role"], made["traits"]) == ("acct-9", "admin", {"team": "blue"})
    account = await Account.select().where(Account.external_id == "acct-9").first()
    assert account["name"] == "Nine KK"
    # the ids may be left to the token; a signed move is the host's word
    moved = await check(
        client,
        key["key"],
        {"identity_token": signed(key["identity_secret"], sub="u4", account="a1")},
    )
    assert moved.status_code == 200, moved.text
    assert (await user("u4"))["acct"] == "a1"


@pytest.mark.parametrize(
    "case", ["wrong secret", "expired", "other key", "garbage", "no expiry", "other user"]
)
async def test_a_bad_identity_token_is_401_naming_it(
    client: Any, admin: dict[str, str], case: str
) -> None:
    await widget_setup()
    key = await new_key(client, admin)
    other = await new_key(client, admin)
    secret = key["identity_secret"]
    claims = {"sub": "u-1", "account": "acct-1"}
    identity = {
        "wrong secret": signed("not-the-secret-" * 3, **claims),
        "expired": signed(secret, lifetime=-3600, **claims),
        "other key": signed(other["identity_secret"], **claims),
        "garbage": "not.a.token",
        "no expiry": jwt.encode(claims, secret, algorithm="HS256"),
        "other user": signed(secret, sub="u-2", account="acct-1"),
    }[case]
    answer = await check(
        client, key["key"], {"user_id": "u-1", "account_id": "acct-1", "identity_token": identity}
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"][0]["field"] == "identity_token"
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert await EndUser.count() == 0


async def test_a_production_key_requires_signed_identity_by_default(
    client: Any, admin: dict[str, str]
) -> None:
    await widget_setup()
    key = await new_key(client, admin)
    assert key["identity"] == "signed"
    bare = await check(client, key["key"], {"user_id": "u-1", "account_id": "acct-1"})
    assert bare.status_code == 401 and bare.json()["detail"][0]["field"] == "identity_token"
    assert await EndUser.count() == 0
    staging = await new_key(client, admin, environment="staging")
    assert staging["identity"] == "browser"
    # turning it off is possible, with a warning
    off = await client.put(
        f"/api/v1/widget-keys/{key['id']}",
        headers=admin,
        json={"name": "web", "allowed_origins": ["https://app.example.com"], "identity": "browser"},
    )
    assert off.status_code == 200, off.text
    assert off.json()["identity"] == "browser" and "warning" in off.json()
    allowed = await check(client, key["key"], {"user_id": "u-1", "account_id": "acct-1"})
    assert allowed.status_code == 200, allowed.text


async def answer_five_times(client: Any, key: str, **extra: Any) -> int:
    """Ask to be shown the survey five times, answering each one shown."""
    for n in range(5):
        shown = await check(
            client, key, {"user_id": "u-1", "account_id": "acct-1", "force": True, **extra}
        )
        assert shown.status_code == 200, shown.text
        if shown.json()["show"]:
            scored = await client.post(
                f"/widget/v1/{key}/responses",
                content=json.dumps(
                    {
                        "display_token": shown.json()["display_token"],
                        "client_id": f"client-{n:04d}",
                        "score": 0,
                    }
                ),
                headers=TEXT,
            )
            assert scored.status_code == 201, scored.text
    return int(await Response.count())


async def test_force_without_a_preview_token_is_ignored(client: Any, admin: dict[str, str]) -> None:
    await widget_setup()
    key = await new_key(client, admin, environment="staging")
    assert await answer_five_times(client, key["key"]) == 1


async def test_a_preview_token_forces_the_survey_until_it_expires(
    client: Any, admin: dict[str, str]
) -> None:
    await widget_setup()
    key = await new_key(client, admin, identity="browser")
    made = await client.post(f"/api/v1/widget-keys/{key['id']}/preview-token", headers=admin)
    assert made.status_code == 201, made.text
    preview = made.json()["preview_token"]
    assert made.json()["query"] == f"nps_preview={preview}"
    assert await answer_five_times(client, key["key"], preview_token=preview) == 5
    other = await new_key(client, admin, identity="browser")
    elsewhere = await check(
        client,
        other["key"],
        {"user_id": "u-2", "account_id": "acct-1", "force": True, "preview_token": preview},
    )
    assert elsewhere.status_code == 200
    first = elsewhere.json()["show"]  # a new user is shown the survey anyway: ask again
    again = await check(
        client,
        other["key"],
        {"user_id": "u-2", "account_id": "acct-1", "force": True, "preview_token": preview},
    )
    assert first is True and again.json()["show"] is False


async def test_an_expired_preview_token_is_ignored(client: Any, admin: dict[str, str]) -> None:
    from feedback.surveys import previews

    await widget_setup()
    key = await new_key(client, admin, identity="browser")
    info_row = await WidgetKey.select(WidgetKey.key).where(WidgetKey.id == key["id"]).first()
    stale, _ = previews.make_preview_token(info_row["key"], now=time.time() - 7200)
    assert await answer_five_times(client, key["key"], preview_token=stale) == 1


async def test_identity_secrets_are_encrypted_at_rest(client: Any, admin: dict[str, str]) -> None:
    await widget_setup()
    key = await new_key(client, admin)
    secret = key["identity_secret"]
    raw = await WidgetKey.select().where(WidgetKey.id == key["id"]).first()
    stored = json.dumps(raw, default=str)
    assert secret not in stored
    assert raw["identity_secret"] is None and raw["identity_secret_sealed"]
    listed = await client.get("/api/v1/widget-keys", headers=admin)
    assert secret not in listed.text and "sealed" not in listed.text


async def test_a_rotated_secret_verifies_with_the_old_one_until_it_is_retired(
    client: Any, admin: dict[str, str]
) -> None:
    await widget_setup()
    key = await new_key(client, admin)
    old = key["identity_secret"]
    rotated = await client.post(f"/api/v1/widget-keys/{key['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["identity_secret"]
    assert new != old and rotated.json()["previous_secret_until"]

    async def status_with(secret: str, user_id: str) -> int:
        identity = signed(secret, sub=user_id, account="acct-1")
        return int((await check(client, key["key"], {"identity_token": identity})).status_code)

    assert (await status_with(old, "u-old"), await status_with(new, "u-new")) == (200, 200)
    retired = await client.post(
        f"/api/v1/widget-keys/{key['id']}/retire-previous-secret", headers=admin
    )
    assert retired.status_code == 201, retired.text
    assert (await status_with(old, "u-old2"), await status_with(new, "u-new2")) == (401, 200)
    too_long = await client.post(
        f"/api/v1/widget-keys/{key['id']}/rotate-secret?keep_previous_hours=99999", headers=admin
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["field"] == "keep_previous_hours"
    at_once = await client.post(
        f"/api/v1/widget-keys/{key['id']}/rotate-secret?keep_previous_hours=0", headers=admin
    )
    newest = at_once.json()["identity_secret"]
    assert (await status_with(new, "u-new3"), await status_with(newest, "u-3")) == (401, 200)


async def test_a_request_without_an_origin_is_told_so_plainly(client: Any) -> None:
    setup = await widget_setup()
    answer = await check(
        client, setup["key"], {"user_id": "u", "account_id": "a"}, {"content-type": "text/plain"}
    )
    assert answer.status_code == 403
    message = answer.json()["detail"][0]["message"]
    assert message == "this request has no Origin header" and "None" not in answer.text


async def test_the_migration_encrypts_secrets_stored_in_clear(client: Any) -> None:
    """Keys made before secrets were encrypted: their secret moves to the sealed column and
    keeps verifying; a key that required identity keeps the user_hash check."""
    import importlib.util
    from pathlib import Path

    await book()
    await widget_setup()
    await WidgetKey(
        key="wk_legacy",
        allowed_origins=["https://app.example.com"],
        identity_secret="legacy-secret-" * 4,
        require_identity=True,
    ).save()
    path = Path(__file__).parents[3] / "migrations" / "feedback_2026_12_05t18_56_00_000000.py"
    spec = importlib.util.spec_from_file_location("encrypt_widget_secrets", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    manager = await migration.forwards()
    for step in manager.raw:
        await step()
    row = await WidgetKey.select().where(WidgetKey.key == "wk_legacy").first()
    assert row["identity_secret"] is None and "legacy-secret" not in row["identity_secret_sealed"]
    assert row["identity"] == "user_hash"
    answer = await check(
        client,
        "wk_legacy",
        {
            "user_id": "u1",
            "account_id": "a1",
            "user_hash": identity_hash("legacy-secret-" * 4, "u1"),
        },
    )
    assert answer.status_code == 200, answer.text
