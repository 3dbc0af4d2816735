"""A user first seen through a staging key stays out of programs and health, even in a
production account, until a production key or an import names them; the users API still
lists them, with their environment."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from feedback.accounts.models import EndUser
from feedback.health.models import HealthSnapshot
from feedback.health.snapshot import compute_snapshot
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.programs.models import Participant, Program
from feedback.programs.shipped import ensure_default_programs
from feedback.programs.triggers import scan_triggers
from feedback.surveys import identify
from tests.api.environments_scope.support import call, staging_key
from tests.api.imports_moving_in.helpers import move
from tests.support.factories import bearer, book, import_csv, token, widget_setup

ACCOUNT = "a1"  # a production account of the book (tests/support/factories `book`)
TESTER = "tester-1"


async def check(client: Any, key: str, user: str = TESTER, account: str = ACCOUNT) -> None:
    body = {"user_id": user, "account_id": account, "traits": {"email": f"{user}@acme.test"}}
    seen = await call(client, key, "eligibility", body)
    assert seen.status_code == 200, seen.text


async def environment_of(user: str) -> str:
    row = await EndUser.select(EndUser.environment).where(EndUser.external_id == user).first()
    assert row is not None, f"no user {user}"
    return str(row["environment"])


async def stored_an_hour_ago(user: str) -> None:
    """Move the user's creation out of the overlap the next scan reads again, so only a
    promotion can bring them into its window."""
    earlier = utcnow() - timedelta(hours=1)
    await EndUser.update({EndUser.created_at: earlier, EndUser.first_seen_at: earlier}).where(
        EndUser.external_id == user
    )


async def enrolled() -> set[str]:
    rows = await Participant.select(Participant.end_user.external_id)
    return {row["end_user.external_id"] for row in rows}


@pytest.fixture
async def keys() -> dict[str, str]:
    await book()
    long_ago = utcnow() - timedelta(days=90)  # the book's people are no new users
    await EndUser.update({EndUser.created_at: long_ago, EndUser.first_seen_at: long_ago}).where(
        EndUser.id > 0
    )
    await ensure_default_programs(enabled=True)
    # only Onboarding (`user_added`): the other programs' triggers name nobody here anyway
    await Program.update({Program.enabled: False}).where(Program.slug != "onboarding")
    return {"production": (await widget_setup())["key"], "staging": await staging_key()}


async def test_a_staging_user_of_a_production_account_is_enrolled_in_nothing(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"])
    await check(client, keys["staging"], "tester-2")  # the account is known now (quick path)
    assert await environment_of(TESTER) == "staging"
    assert await environment_of("tester-2") == "staging"
    await check(client, keys["production"], "real-1")
    assert await environment_of("real-1") == "production"
    assert await scan_triggers(utcnow()) == 1
    assert await enrolled() == {"real-1"}


async def test_a_production_key_naming_them_makes_them_production_and_enrolled_next_run(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"], "tester-0")  # the account is known now (quick path)
    await check(client, keys["staging"])
    await stored_an_hour_ago(TESTER)
    assert await scan_triggers(utcnow()) == 0
    await check(client, keys["production"])
    assert await environment_of(TESTER) == "production"
    assert await environment_of("tester-0") == "staging"
    assert await scan_triggers(utcnow()) == 1
    assert await enrolled() == {TESTER}


async def test_a_staging_key_leaves_a_production_user_production(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["production"])
    await check(client, keys["staging"])
    assert await environment_of(TESTER) == "production"


async def test_a_production_check_of_a_production_user_writes_nothing_more(
    client: Any, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await check(client, keys["production"])
    writes: list[dict[Any, Any]] = []
    update = EndUser.update

    def recording(values: Any = None, **kwargs: Any) -> Any:
        writes.append(values)
        return update(values, **kwargs)

    monkeypatch.setattr(identify.EndUser, "update", recording)
    await check(client, keys["production"])
    assert writes == []  # seen within the hour, nothing changed: not even the environment
    await check(client, keys["production"], "u1")  # last seen long ago: refreshed
    assert len(writes) == 1 and EndUser.environment not in writes[0]


async def coverage_users(account: str) -> Any:
    await compute_snapshot(utcnow().date())
    row = (
        await HealthSnapshot.select(HealthSnapshot.components)
        .where(HealthSnapshot.account.external_id == account)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return row["components"].get("coverage")


async def test_health_coverage_counts_production_users_only(
    client: Any, keys: dict[str, str]
) -> None:
    shown = await call(
        client, keys["production"], "eligibility", {"user_id": "u1", "account_id": ACCOUNT}
    )
    assert shown.json()["show"] is True, shown.text
    answered = await call(
        client,
        keys["production"],
        "responses",
        {"display_token": shown.json()["display_token"], "client_id": "client-u1-0001", "score": 9},
    )
    assert answered.status_code == 201, answered.text
    before = await coverage_users(ACCOUNT)
    assert before is not None
    for n in range(3):
        await check(client, keys["staging"], f"tester-{n}")
    assert await coverage_users(ACCOUNT) == before
    await check(client, keys["production"], "tester-0")
    assert await coverage_users(ACCOUNT) < before


async def test_the_users_api_lists_them_with_their_environment(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"])
    headers = bearer(await token(Role.admin))
    listed = await client.get(f"/api/v1/accounts/{ACCOUNT}/users", headers=headers)
    assert listed.status_code == 200, listed.text
    environments = {user["external_id"]: user["environment"] for user in listed.json()}
    assert environments == {"u1": "production", "u2": "production", TESTER: "staging"}
    one = await client.get(f"/api/v1/users/{TESTER}", headers=headers)
    assert one.status_code == 200 and one.json()["environment"] == "staging"


@pytest.mark.parametrize(
    "kind, text",
    [
        ("users", f"external_id,account_id\n{TESTER},{ACCOUNT}\n"),
        (
            "responses",
            f"response_id,account_id,user_id,score,answered_at\n"
            f"r-7,{ACCOUNT},{TESTER},9,2026-01-02T10:00:00Z\n",
        ),
    ],
)
async def test_an_import_naming_them_makes_them_production_and_enrolled_next_run(
    client: Any, keys: dict[str, str], kind: str, text: str
) -> None:
    await check(client, keys["staging"])
    await stored_an_hour_ago(TESTER)
    assert await scan_triggers(utcnow()) == 0
    result = await import_csv(kind, text)
    assert result.ok, result.errors
    assert await environment_of(TESTER) == "production"
    assert await scan_triggers(utcnow()) == 1
    assert await enrolled() == {TESTER}


async def test_a_dry_run_import_leaves_them_staging(client: Any, keys: dict[str, str]) -> None:
    await check(client, keys["staging"])
    result = await import_csv(
        "users", f"external_id,account_id\n{TESTER},{ACCOUNT}\n", dry_run=True
    )
    assert result.ok, result.errors
    assert await environment_of(TESTER) == "staging"


async def test_moving_them_in_makes_them_production(client: Any, keys: dict[str, str]) -> None:
    await check(client, keys["staging"])
    person = {
        "id": "p-1",
        "email": f"{TESTER}@acme.test",
        "properties": {"customer_id": TESTER, "account_id": ACCOUNT},
    }
    result = await move("delighted", people=json.dumps([person]).encode())
    assert result.ok, result.errors
    assert await environment_of(TESTER) == "production"
