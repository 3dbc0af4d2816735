"""Report filters from the data: GET /api/v1/reports/choices lists what each filter can take
(scoped, counted, capped), and every report matches filter values whatever their case."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.kernel.principal import Role
from feedback.reports.choices import filter_choices
from feedback.reports.services import NPSQuery, load_nps_report
from tests.support.factories import bearer, book, import_csv, token

# Acme (a1, premium, Software) and Globex (a2, paid, Retail) are Ann's; Initech (b1, free,
# Finance) is Bob's; Ann and Bob report to Boss. Users: u1 admin, u2 recruiter (a1), u3
# read-only (a2), u4 admin (b1).
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,Love it,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a1,u1,6,Too slow,2025-04-15T10:00:00Z\n"
    "r4,a2,u3,7,,2025-01-20T10:00:00Z\n"
    "r5,b1,u4,2,Unhappy,2025-06-01T10:00:00Z\n"
    "r6,b1,u4,10,Better now,2025-07-01T10:00:00Z\n"
)


@pytest.fixture
async def data() -> None:
    await book()
    for external_id, region in (("a1", "EMEA"), ("a2", "emea"), ("b1", "amer")):
        await Account.update({Account.traits: {"region": region}}).where(
            Account.external_id == external_id
        )
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors


@pytest.fixture
async def analyst(data: None) -> dict[str, str]:
    return bearer(await token(Role.analyst))


async def choices(client: Any, headers: dict[str, str], dimension: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/reports/choices?dimension={dimension}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(c["value"], c["label"], c["responses"]) for c in body["choices"]]


# --- choices ---------------------------------------------------------------------------------


async def test_the_plans_are_listed_sorted_with_their_answers(
    client: Any, analyst: dict[str, str]
) -> None:
    body = await choices(client, analyst, "plan")
    assert body["dimension"] == "plan" and body["truncated"] is False
    assert listed(body) == [("free", "free", 2), ("paid", "paid", 1), ("premium", "premium", 3)]


async def test_roles_and_industries_come_from_the_answers(
    client: Any, analyst: dict[str, str]
) -> None:
    roles = await choices(client, analyst, "role")
    assert listed(roles) == [
        ("admin", "admin", 4),
        ("read-only", "read-only", 1),
        ("recruiter", "recruiter", 1),
    ]
    industries = await choices(client, analyst, "industry")
    assert [c[0] for c in listed(industries)] == ["Finance", "Retail", "Software"]


async def test_csms_and_managers_are_emails_labelled_with_names(
    client: Any, analyst: dict[str, str]
) -> None:
    csms = await choices(client, analyst, "csm")
    assert listed(csms) == [("ann@example.com", "Ann", 4), ("bob@example.com", "Bob", 2)]
    managers = await choices(client, analyst, "manager")
    assert listed(managers) == [("boss@example.com", "Boss", 6)]


async def test_a_traits_spellings_that_differ_in_case_are_one_choice(
    client: Any, analyst: dict[str, str]
) -> None:
    body = await choices(client, analyst, "trait:region")
    # a1's EMEA (3 answers) and a2's emea (1) are one value, spelt as it sorts first
    assert listed(body) == [("amer", "amer", 2), ("EMEA", "EMEA", 4)]


async def test_a_csm_sees_only_the_values_of_their_own_accounts(client: Any, data: None) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    assert listed(await choices(client, bob, "plan")) == [("free", "free", 2)]
    assert listed(await choices(client, bob, "csm")) == [("bob@example.com", "Bob", 2)]
    assert listed(await choices(client, bob, "trait:region")) == [("amer", "amer", 2)]


async def test_the_period_limits_the_counts(client: Any, analyst: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/choices?dimension=plan&from=2025-04-01T00:00:00Z", headers=analyst
    )
    assert listed(answer.json()) == [("free", "free", 2), ("premium", "premium", 1)]


async def test_choices_are_capped_keeping_the_most_answered(data: None) -> None:
    from feedback.kernel.principal import Principal

    analyst = Principal(Role.analyst, "test", "api")
    capped = await filter_choices(analyst, "plan", limit=2)
    assert capped.truncated is True
    # premium (3) and free (2) are kept, paid (1) is not; sorted by name
    assert [c.value for c in capped.choices] == ["free", "premium"]


@pytest.mark.parametrize(
    "query",
    ["", "dimension=", "dimension=colour", "dimension=trait:", "dimension=trait:bad%20name"],
)
async def test_a_missing_or_unknown_dimension_is_a_422_naming_it(
    client: Any, analyst: dict[str, str], query: str
) -> None:
    answer = await client.get(f"/api/v1/reports/choices?{query}", headers=analyst)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == "dimension"


async def test_choices_need_a_token(client: Any, data: None) -> None:
    answer = await client.get("/api/v1/reports/choices?dimension=plan")
    assert answer.status_code == 401


async def test_the_choices_route_is_documented(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/reports/choices"]["get"]
    assert "dimension" in {p["name"] for p in operation["parameters"]}
    assert operation["summary"].startswith("The values a report filter can take")


# --- case-insensitive filters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("plan", "FREE", 2),
        ("plan", "Premium", 3),
        ("industry", "software", 3),
        ("role", "ADMIN", 4),
        ("company_size", "11-50", 1),
        ("csm", "Ann@Example.com", 4),
        ("manager", "BOSS@example.com", 6),
        ("trait:region", "emea", 4),
        ("trait:region", "Emea", 4),
    ],
)
async def test_filters_match_whatever_the_case(
    client: Any, analyst: dict[str, str], name: str, value: str, expected: int
) -> None:
    nps = await client.get(f"/api/v1/reports/nps?{name}={value}", headers=analyst)
    assert nps.status_code == 200, nps.text
    assert nps.json()["groups"][0]["responses"] == expected
    answers = await client.get(f"/api/v1/reports/responses?{name}={value}", headers=analyst)
    assert answers.json()["total"] == expected


async def test_a_filter_still_excludes_other_values(analyst: dict[str, str]) -> None:
    from feedback.kernel.principal import Principal

    principal = Principal(Role.analyst, "test", "api")
    report = await load_nps_report(
        principal, NPSQuery(group_by="plan", filters=(("plan", "PAID"), ("role", "Read-Only")))
    )
    assert [(g.key, g.responses) for g in report.groups] == [("paid", 1)]
    nothing = await load_nps_report(principal, NPSQuery(filters=(("plan", "fre"),)))
    assert nothing.groups[0].responses == 0


async def test_account_and_user_ids_are_matched_exactly(
    client: Any, analyst: dict[str, str]
) -> None:
    exact = await client.get("/api/v1/reports/responses?account=a1", headers=analyst)
    assert exact.json()["total"] == 3
    other_case = await client.get("/api/v1/reports/responses?account=A1", headers=analyst)
    assert other_case.json()["total"] == 0


async def test_the_pages_one_pass_choices_equal_each_dimensions_own(data: None) -> None:
    from feedback.kernel.principal import Principal
    from feedback.reports.choices import DIMENSIONS, page_choices

    for principal in (
        Principal(Role.analyst, "test", "api"),
        Principal(Role.csm, "test", "api", csm_id=await csm_id("bob@example.com")),
    ):
        together = await page_choices(principal, DIMENSIONS)
        for dimension in DIMENSIONS:
            if dimension == "csm" and principal.role is Role.csm:
                assert dimension not in together
                continue
            alone = await filter_choices(principal, dimension)
            expected = [(c.value, f"{c.label} ({c.responses:,})") for c in alone.choices]
            assert together[dimension] == expected, dimension


async def csm_id(email: str) -> int:
    from feedback.auth.services import csm_id_for_email

    found = await csm_id_for_email(email, Role.csm)
    assert found is not None
    return found


# --- the pages' dropdowns are kept a minute --------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pages' dropdown cache on a clock the test moves (`clock[0]`, in seconds)."""
    from feedback.kernel.cache import TTLCache
    from feedback.reports import choices as choices_module

    now = [0.0]
    cache: TTLCache[Any] = TTLCache(
        choices_module.PAGE_CHOICES_TTL_SECONDS, forgettable=False, clock=lambda: now[0]
    )
    monkeypatch.setattr(choices_module, "page_choices_cache", cache)
    return now


async def test_the_pages_dropdowns_are_kept_a_minute_and_the_apis_are_not(
    data: None, clock: list[float]
) -> None:
    from feedback.kernel.principal import Principal
    from feedback.reports.choices import DIMENSIONS, page_choices

    analyst = Principal(Role.analyst, "test", "api")
    first = await page_choices(analyst, DIMENSIONS)
    assert first["plan"] == [("free", "free (2)"), ("paid", "paid (1)"), ("premium", "premium (3)")]
    later_answer = RESPONSES.splitlines()[0] + "\nr7,b1,u4,8,,2025-08-01T10:00:00Z\n"
    assert (await import_csv("responses", later_answer)).ok
    clock[0] = 59.0
    assert await page_choices(analyst, DIMENSIONS) == first  # the counts of a minute ago
    fresh = await filter_choices(analyst, "plan")
    assert (fresh.choices[0].value, fresh.choices[0].responses) == ("free", 3)
    clock[0] = 60.5
    later = await page_choices(analyst, DIMENSIONS)
    assert later["plan"][0] == ("free", "free (3)")
    assert later["csm"][1] == ("bob@example.com", "Bob (3)")


async def test_the_kept_dropdowns_are_per_scope_and_period(data: None, clock: list[float]) -> None:
    from datetime import UTC, datetime

    from feedback.kernel.principal import Principal
    from feedback.reports.choices import DIMENSIONS, page_choices

    analyst = Principal(Role.analyst, "test", "api")
    everything = await page_choices(analyst, DIMENSIONS)
    bob = Principal(Role.csm, "test", "api", csm_id=await csm_id("bob@example.com"))
    own = await page_choices(bob, DIMENSIONS)
    assert own["plan"] == [("free", "free (2)")] and "csm" not in own
    since = await page_choices(analyst, DIMENSIONS, date_from=datetime(2025, 4, 1, tzinfo=UTC))
    assert since["plan"] == [("free", "free (2)"), ("premium", "premium (1)")]
    # a manager sees every answer, as an analyst does: the same dropdowns
    boss = Principal(Role.manager, "test", "api", csm_id=await csm_id("boss@example.com"))
    assert await page_choices(boss, DIMENSIONS) == everything


async def test_a_pages_trait_values_are_kept_a_minute(data: None, clock: list[float]) -> None:
    from feedback.kernel.principal import Principal
    from feedback.reports.choices import page_filter_choices

    analyst = Principal(Role.analyst, "test", "api")
    first = await page_filter_choices(analyst, "trait:region")
    assert [(c.value, c.responses) for c in first.choices] == [("amer", 2), ("EMEA", 4)]
    later_answer = RESPONSES.splitlines()[0] + "\nr7,b1,u4,8,,2025-08-01T10:00:00Z\n"
    assert (await import_csv("responses", later_answer)).ok
    assert await page_filter_choices(analyst, "trait:region") == first
    bob = Principal(Role.csm, "test", "api", csm_id=await csm_id("bob@example.com"))
    own = await page_filter_choices(bob, "trait:region")
    assert [(c.value, c.responses) for c in own.choices] == [("amer", 3)]
    clock[0] = 61.0
    fresh = await page_filter_choices(analyst, "trait:region")
    assert [(c.value, c.responses) for c in fresh.choices] == [("amer", 3), ("EMEA", 4)]
