"""POST /api/v1/imports/{kind} with CSV or JSON bodies, as a CRM sync job would call it."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.accounts.models import CSM, Account
from feedback.auth.models import AuditEntry
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_it_imports_a_csv_body(client: Any, admin: dict[str, str]) -> None:
    body = '\ufeffemail,name\r\nann@example.com,Ann\r\n\r\nbob@example.com,"Bob, Jr."\r\n'
    answer = await client.post(
        "/api/v1/imports/csms", content=body.encode(), headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 2
    assert await CSM.exists().where(CSM.name == "Bob, Jr.")


async def test_it_imports_json_rows(client: Any, admin: dict[str, str]) -> None:
    await book()
    rows = [{"external_id": "a9", "name": "Nine", "arr": 1200.5, "employees": 30, "Tier": "gold"}]
    answer = await client.post("/api/v1/imports/accounts", json={"rows": rows}, headers=admin)
    assert answer.status_code == 200, answer.text
    account = (
        await Account.select().where(Account.external_id == "a9").output(load_json=True).first()
    )
    assert account["arr_cents"] == 120050 and account["traits"] == {"tier": "gold"}


async def test_invalid_rows_answer_422_naming_line_and_column(
    client: Any, admin: dict[str, str]
) -> None:
    await book()
    body = "account_id,user_id,score,answered_at\na1,u1,11,2025-01-01\na1,u1,x,nope\n"
    answer = await client.post(
        "/api/v1/imports/responses", content=body, headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert {(d["line"], d["field"]) for d in detail} == {
        (2, "score"),
        (3, "score"),
        (3, "answered_at"),
    }
    assert answer.json()["result"]["written"] is False


async def test_skip_invalid_writes_the_good_rows(client: Any, admin: dict[str, str]) -> None:
    body = "email,name\nok@example.com,Ok\nnot-an-email,Bad\n"
    answer = await client.post(
        "/api/v1/imports/csms?skip_invalid=true",
        content=body,
        headers={**admin, "content-type": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.json()["created"] == 1 and answer.json()["error_count"] == 1
    assert await CSM.count() == 1


async def test_an_unknown_kind_is_rejected_naming_the_field(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.post("/api/v1/imports/widgets", json=[], headers=admin)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "kind"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"rows": [1, 2]}'),
        ("application/json", b'"just a string"'),
        ("text/csv", b"\xff\xfe\x00garbage"),
        ("text/csv", b""),
        ("text/csv", b'email,name\n"unterminated,quote\n'),
        ("image/png", b"\x89PNG"),
    ],
)
async def test_malformed_bodies_get_4xx_and_write_nothing(
    client: Any, admin: dict[str, str], content_type: str, body: bytes
) -> None:
    answer = await client.post(
        "/api/v1/imports/csms", content=body, headers={**admin, "content-type": content_type}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"][0]["field"]
    assert await CSM.count() == 0


async def test_an_import_is_recorded_in_the_audit_log(client: Any, admin: dict[str, str]) -> None:
    await client.post(
        "/api/v1/imports/csms", json=[{"email": "x@example.com", "name": "X"}], headers=admin
    )
    entry = await AuditEntry.select().where(AuditEntry.action == "import.csms").first()
    assert entry["actor"].startswith("token:fbk_") and entry["source"] == "api"


async def test_an_oversized_body_is_refused_before_parsing(
    client: Any, admin: dict[str, str]
) -> None:
    from feedback.settings import get_settings

    body = b"email,name\n" + b"x" * get_settings().max_import_bytes
    answer = await client.post(
        "/api/v1/imports/csms", content=body, headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]
    assert await CSM.count() == 0
