"""Small builders for test data, going through the same services the product uses."""

from __future__ import annotations

from typing import Any

from feedback.auth.services import create_token, csm_id_for_email
from feedback.imports.parsing import read_csv
from feedback.imports.services import Importer, ImportResult
from feedback.kernel.principal import Role
from feedback.surveys.identity_secrets import seal


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


async def widget_setup(
    *,
    origins: tuple[str, ...] = ("https://app.example.com",),
    environment: str = "production",
    require_identity: bool = False,
    **schedule: Any,
) -> dict[str, Any]:
    """A survey, a schedule (new users eligible at once unless told otherwise) and a key."""
    from feedback.surveys.models import Schedule, Survey, WidgetKey

    survey = Survey(name="NPS", product_name="Acme HR", promoter_link_url="https://g2.example/r")
    await survey.save()
    rules = {"first_survey_after_days": 0, **schedule}
    plan = Schedule(survey=survey.id, name="quarterly", **rules)
    await plan.save()
    secret = "s3cret" * 8
    key = WidgetKey(
        key=f"wk_test_{survey.id}",
        name="test",
        environment=environment,
        allowed_origins=list(origins),
        identity_secret_sealed=seal(secret),
        identity="user_hash" if require_identity else "browser",
    )
    await key.save()
    return {"survey": survey.id, "schedule": plan.id, "key": key.key, "secret": secret}


ORIGIN = {"origin": "https://app.example.com"}
