"""Imports through the service layer: validation first, all-or-nothing, upserts, idempotence."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

from feedback.accounts.models import CSM, Account, ChurnEvent, EndUser
from feedback.auth.models import AuditEntry
from feedback.responses.models import Response
from tests.support.factories import book, import_csv
from tests.support.paths import SAAS_CHURN


async def test_it_imports_a_book_of_csms_accounts_and_users() -> None:
    await book()
    assert await CSM.count() == 3
    ann = (
        await CSM.select(CSM.manager.email.as_alias("manager"))
        .where(CSM.email == "ann@example.com")
        .first()
    )
    assert ann["manager"] == "boss@example.com"
    acme = await Account.select().where(Account.external_id == "a1").first()
    assert acme["arr_cents"] == 12_000_050  # exact, not float
    assert acme["company_size"] == "51-200"  # derived from employee_count
    assert await EndUser.count().where(EndUser.account.external_id == "a1") == 2


async def test_it_writes_nothing_when_one_row_is_invalid() -> None:
    await book()
    result = await import_csv(
        "accounts",
        "external_id,name,arr,csm_email\n"
        "c1,Good,100,ann@example.com\n"
        "c2,Bad money,12.345,ann@example.com\n"
        "c3,Unknown CSM,5,nobody@example.com\n",
    )
    assert not result.written
    assert [(e.line, e.column) for e in result.errors] == [(3, "arr"), (4, "csm_email")]
    assert await Account.count() == 3


async def test_it_writes_valid_rows_and_reports_the_rest_with_skip_invalid() -> None:
    await book()
    result = await import_csv(
        "accounts",
        "external_id,name,arr\nc1,Good,100\nc2,,5\n",
        skip_invalid=True,
    )
    assert result.written
    assert (result.created, result.invalid) == (1, 1)
    assert result.errors[0].line == 3 and result.errors[0].column == "name"
    assert await Account.exists().where(Account.external_id == "c1")


async def test_a_dry_run_validates_and_writes_nothing() -> None:
    result = await import_csv("csms", "email,name\nx@example.com,X\n", dry_run=True)
    assert result.ok and not result.written and result.created == 1
    assert await CSM.count() == 0


async def test_it_rejects_duplicate_keys_within_one_file() -> None:
    result = await import_csv("csms", "email,name\nx@example.com,X\nX@example.com,Y\n")
    assert not result.written
    assert result.errors[0].line == 3 and "line 2" in result.errors[0].reason


async def test_an_upsert_changes_only_the_columns_in_the_file() -> None:
    await book()
    result = await import_csv("accounts", "external_id,name,plan\na1,Acme Inc,enterprise\n")
    assert (result.created, result.updated) == (0, 1)
    acme = await Account.select().where(Account.external_id == "a1").first()
    assert acme["plan"] == "enterprise" and acme["name"] == "Acme Inc"
    assert acme["arr_cents"] == 12_000_050  # not in the file: untouched
    assert acme["industry"] == "Software"


async def test_unknown_account_columns_become_traits_and_later_files_merge_them() -> None:
    await book()
    await import_csv("accounts", "external_id,name,Region,Tier\na1,Acme,EMEA,gold\n")
    await import_csv("accounts", "external_id,name,tier,seats\na1,Acme,platinum,40\n")
    row = (
        await Account.select(Account.traits)
        .where(Account.external_id == "a1")
        .output(load_json=True)
        .first()
    )
    assert row["traits"] == {"region": "EMEA", "tier": "platinum", "seats": "40"}


async def test_unknown_csm_columns_are_rejected_naming_the_column() -> None:
    result = await import_csv("csms", "email,name,favourite_colour\nx@example.com,X,red\n")
    assert not result.written
    assert result.errors[0].column == "favourite_colour"


async def test_reimporting_the_same_file_changes_nothing() -> None:
    await book()
    before = await AuditEntry.count()
    result = await import_csv(
        "users", "external_id,account_id,role,email,locale\nu1,a1,admin,u1@acme.test,en\n"
    )
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert await AuditEntry.count() == before


async def test_historical_responses_keep_a_snapshot_and_are_imported_once() -> None:
    await book()
    text = (
        "response_id,account_id,user_id,score,comment,answered_at\n"
        "r1,a1,u1,9,Great,2025-02-01T10:00:00Z\n"
        "r2,a1,new-user,3,Slow,2025-02-02\n"
        ",b1,u4,7,,2025-03-01T09:00:00+09:00\n"
    )
    first = await import_csv("responses", text)
    assert first.ok and first.created == 3
    again = await import_csv("responses", text)
    assert (again.created, again.unchanged) == (0, 3)
    assert await Response.count() == 3
    r1 = await Response.select().where(Response.idempotency_key == "import:r1").first()
    assert (r1["plan"], r1["industry"], r1["arr_cents"], r1["role"]) == (
        "premium",
        "Software",
        12_000_050,
        "admin",
    )
    created_user = await EndUser.select().where(EndUser.external_id == "new-user").first()
    assert created_user is not None
    third = await Response.select(Response.answered_at).where(Response.score == 7).first()
    assert third["answered_at"] == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


async def test_responses_for_unknown_accounts_are_rejected() -> None:
    result = await import_csv(
        "responses", "account_id,user_id,score,answered_at\nzzz,u,9,2025-01-01\n"
    )
    assert not result.written and result.errors[0].column == "account_id"


async def test_a_churn_event_in_the_past_marks_the_account_churned() -> None:
    await book()
    future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    result = await import_csv(
        "churn",
        "account_id,noticed_at,effective_at,kind,reason\n"
        "a2,2025-01-10,2025-02-28,non_renewal,budget\n"
        f"b1,2025-06-01,{future},termination_notice,\n",
    )
    assert result.ok and result.created == 2
    statuses = dict(
        (r["external_id"], r["status"])
        for r in await Account.select(Account.external_id, Account.status)
    )
    assert statuses == {"a1": "active", "a2": "churned", "b1": "active"}
    assert await ChurnEvent.count() == 2


async def test_the_saas_churn_file_becomes_accounts_responses_and_churn_events() -> None:
    from feedback.imports.saas_churn import import_saas_churn
    from feedback.imports.services import Importer

    with SAAS_CHURN.open(newline="") as handle:
        raw = list(csv.DictReader(handle))
    results = await import_saas_churn(Importer(), SAAS_CHURN.read_bytes(), "2025-01-01")
    assert all(r.ok and r.written for r in results)
    assert await Account.count() == len(raw)
    assert await Response.count() == len(raw)
    churned = sum(1 for r in raw if float(r["churned"]) == 1.0)
    assert await ChurnEvent.count() == churned
    assert await Account.count().where(Account.status == "churned") == churned
    promoters = sum(1 for r in raw if int(r["csat_score"]) >= 9)
    assert await Response.count().where(Response.score >= 9) == promoters


async def test_a_nul_character_is_refused_as_a_row_error_on_either_engine() -> None:
    """PostgreSQL's text cannot hold NUL (a fuzzed import crashed there, SQLite stored it)."""
    result = await import_csv("accounts", "external_id,name,region\na1,Acme\x00Corp,emea\n")
    assert not result.ok
    assert [(e.line, e.column) for e in result.errors] == [(2, "name")]
    result = await import_csv("accounts", "external_id,name,region\na1,Acme,em\x00ea\n")
    assert [(e.line, e.column) for e in result.errors] == [(2, "region")]
    assert await Account.count() == 0
