"""An account first seen through a staging key stays out of production: the accounts list,
churn, health, Today and the CTA rules leave it out until a production key or an import names
it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import Cta
from feedback.ctas.rules import evaluate_rules
from feedback.health.models import HealthSnapshot
from feedback.health.snapshot import compute_snapshot
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.surveys import identify
from tests.api.environments_scope.support import call, staging_key
from tests.api.imports_moving_in.helpers import move
from tests.support.factories import bearer, book, import_csv, token, widget_setup
from tests.support.web import signed_in_admin

TEST_ACCOUNT = "acct-1"  # the account the moving-in sample below names too


async def check(client: Any, key: str, user: str, account: str = TEST_ACCOUNT) -> None:
    seen = await call(client, key, "eligibility", {"user_id": user, "account_id": account})
    assert seen.status_code == 200, seen.text


async def environment_of(account: str) -> str:
    row = await Account.select(Account.environment).where(Account.external_id == account).first()
    assert row is not None, f"no account {account}"
    return str(row["environment"])


@pytest.fixture
async def keys() -> dict[str, str]:
    await book()
    return {"production": (await widget_setup())["key"], "staging": await staging_key()}


async def admin(client: Any, path: str, **params: Any) -> Any:
    got = await client.get(path, params=params, headers=bearer(await token(Role.admin)))
    assert got.status_code == 200, got.text
    return got.json()


async def churn_accounts(client: Any) -> int:
    return int((await admin(client, "/api/v1/reports/churn"))["accounts"])


async def listed(client: Any) -> set[str]:
    return {a["external_id"] for a in await admin(client, "/api/v1/accounts")}


async def renewing_and_quiet(account: str) -> None:
    """The account renews in 30 days, is a year old, its people were last seen long ago and
    its health is red: a renewal-at-risk and a going-dark candidate, in Today's lists too."""
    now = utcnow()
    await Account.update(
        {
            Account.renewal_date: (now + timedelta(days=30)).date(),
            Account.created_at: now - timedelta(days=400),
        }
    ).where(Account.external_id == account)
    pk = (await Account.select(Account.id).where(Account.external_id == account).first())["id"]
    await EndUser.update({EndUser.last_seen_at: now - timedelta(days=200)}).where(
        EndUser.account == pk
    )
    await HealthSnapshot.insert(
        HealthSnapshot(account=pk, day=now.date(), score=20.0, band="red", csm=None)
    )


async def rule_ctas(account: str) -> set[str]:
    rows = await Cta.select(Cta.type).where(Cta.account.external_id == account)
    return {row["type"] for row in rows}


async def test_a_staging_key_creates_a_staging_account_left_out_of_production(
    client: Any, keys: dict[str, str]
) -> None:
    churn_before = await churn_accounts(client)
    today_before = (await admin(client, "/api/v1/today"))["counts"]
    await check(client, keys["staging"], "su-1")
    assert await environment_of(TEST_ACCOUNT) == "staging"

    assert TEST_ACCOUNT not in await listed(client)
    assert await churn_accounts(client) == churn_before
    await compute_snapshot(utcnow().date())
    snapshots = await HealthSnapshot.select(HealthSnapshot.account.external_id)
    assert {row["account.external_id"] for row in snapshots} == {"a1", "a2", "b1"}

    await renewing_and_quiet(TEST_ACCOUNT)
    await evaluate_rules(utcnow())
    assert await rule_ctas(TEST_ACCOUNT) == set()
    today = await admin(client, "/api/v1/today")
    assert today["counts"] == today_before
    assert TEST_ACCOUNT not in json.dumps(today)


async def test_a_production_key_naming_it_makes_it_production_everywhere(
    client: Any, keys: dict[str, str]
) -> None:
    churn_before = await churn_accounts(client)
    today_before = (await admin(client, "/api/v1/today"))["counts"]
    await check(client, keys["staging"], "su-1")
    await check(client, keys["staging"], "su-2")  # known now: the quick path's cache has it
    await renewing_and_quiet(TEST_ACCOUNT)
    await check(client, keys["production"], "pu-1")
    assert await environment_of(TEST_ACCOUNT) == "production"
    assert TEST_ACCOUNT in await listed(client)
    assert await churn_accounts(client) == churn_before + 1
    await EndUser.update({EndUser.last_seen_at: utcnow() - timedelta(days=200)}).where(
        EndUser.external_id == "pu-1"
    )
    today = await admin(client, "/api/v1/today")
    counts = today["counts"]
    assert counts["renewals_90d"] == today_before["renewals_90d"] + 1
    assert counts["going_dark"] == today_before["going_dark"] + 1
    assert TEST_ACCOUNT in json.dumps(today)
    await evaluate_rules(utcnow())
    assert await rule_ctas(TEST_ACCOUNT) == {"renewal", "going_dark", "health_alert"}
    await compute_snapshot(utcnow().date())
    assert await HealthSnapshot.exists().where(HealthSnapshot.account.external_id == TEST_ACCOUNT)


async def test_a_staging_key_leaves_a_production_account_as_it_is(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"], "su-9", account="a1")
    await check(client, keys["staging"], "su-10", account="a1")
    assert await environment_of("a1") == "production"
    assert "a1" in await listed(client)


async def test_a_production_check_of_a_production_account_writes_no_promotion(
    client: Any, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    promoted: list[list[int]] = []

    async def record(ids: Any) -> None:
        promoted.append(list(ids))

    monkeypatch.setattr(identify, "promote_to_production", record)
    for user in ("u1", "u1", "new-user", "u2"):
        await check(client, keys["production"], user, account="a1")
    await check(client, keys["production"], "brand-new", account="new-account")
    assert promoted == []
    assert await environment_of("new-account") == "production"


async def test_the_account_page_of_a_staging_account_opens_and_says_so(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"], "su-1")
    await signed_in_admin(client)
    page = await client.get(f"/accounts/{TEST_ACCOUNT}")
    assert page.status_code == 200, page.text
    assert "Seen only through staging keys: not counted in the production numbers." in page.text
    listing = await client.get("/accounts/")
    assert listing.status_code == 200 and f"/accounts/{TEST_ACCOUNT}" not in listing.text
    one = await client.get(
        f"/api/v1/accounts/{TEST_ACCOUNT}", headers=bearer(await token(Role.admin))
    )
    assert one.status_code == 200 and one.json()["environment"] == "staging"


@pytest.mark.parametrize(
    "kind, text",
    [
        ("accounts", f"external_id,name\n{TEST_ACCOUNT},Acme Staging\n"),
        ("users", f"external_id,account_id\nsu-7,{TEST_ACCOUNT}\n"),
        (
            "responses",
            f"response_id,account_id,user_id,score,answered_at\n"
            f"r-7,{TEST_ACCOUNT},su-7,9,2026-01-02T10:00:00Z\n",
        ),
    ],
)
async def test_an_import_naming_it_makes_it_production(
    client: Any, keys: dict[str, str], kind: str, text: str
) -> None:
    await check(client, keys["staging"], "su-1")
    result = await import_csv(kind, text)
    assert result.ok, result.errors
    assert await environment_of(TEST_ACCOUNT) == "production"
    assert TEST_ACCOUNT in await listed(client)


async def test_a_dry_run_import_leaves_it_staging(client: Any, keys: dict[str, str]) -> None:
    await check(client, keys["staging"], "su-1")
    result = await import_csv(
        "users", f"external_id,account_id\nsu-7,{TEST_ACCOUNT}\n", dry_run=True
    )
    assert result.ok, result.errors
    assert await environment_of(TEST_ACCOUNT) == "staging"


async def test_moving_in_people_of_it_makes_it_production(
    client: Any, keys: dict[str, str]
) -> None:
    await check(client, keys["staging"], "su-1")
    person = {
        "id": "p-1",
        "email": "u-1@acme.test",
        "properties": {"customer_id": "u-1", "account_id": TEST_ACCOUNT},
    }
    result = await move("delighted", people=json.dumps([person]).encode())
    assert result.ok, result.errors
    assert await environment_of(TEST_ACCOUNT) == "production"
