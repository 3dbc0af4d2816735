"""Small builders for test data, going through the same services the product uses."""

from __future__ import annotations

from typing import Any

from feedback.auth.models import Role
from feedback.auth.services import create_token, csm_id_for_email
from feedback.imports.parsing import read_csv
from feedback.imports.services import Importer, ImportResult


async def import_csv(kind: str, text: str, **options: Any) -> ImportResult:
    header, rows = read_csv(text)
    return await Importer(**options).run(kind, header, rows)


async def book() -> None:
    """Two CSMs under one manager, three accounts, four users."""
    result = await import_csv(
        "csms",
        "email,name,manager_email\n"
        "boss@example.com,Boss,\n"
        "ann@example.com,Ann,boss@example.com\n"
        "bob@example.com,Bob,boss@example.com\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts",
        "external_id,name,plan,industry,employee_count,arr,csm_email,renewal_date\n"
        "a1,Acme,premium,Software,120,120000.50,ann@example.com,2027-01-31\n"
        "a2,Globex,paid,Retail,40,9000,ann@example.com,2027-03-31\n"
        "b1,Initech,free,Finance,8,0,bob@example.com,\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "users",
        "external_id,account_id,role,email,locale\n"
        "u1,a1,admin,u1@acme.test,en\n"
        "u2,a1,recruiter,u2@acme.test,ja\n"
        "u3,a2,read-only,,en\n"
        "u4,b1,admin,,\n",
    )
    assert result.ok, result.errors


async def token(role: Role, csm_email: str | None = None) -> str:
    csm_id = await csm_id_for_email(csm_email, role)
    value, _ = await create_token(role, f"test {role.value}", "tests", csm_id)
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
