"""GET /api/v1/reports/nps: the database counts per segment, analytics adds the interval."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from analytics.nps import nps_interval
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token
from tests.support.paths import SAAS_CHURN

RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a1,u1,6,,2025-04-15T10:00:00Z\n"
    "r4,a2,u3,7,,2025-01-20T10:00:00Z\n"
    "r5,a2,u3,3,,2025-05-20T10:00:00Z\n"
    "r6,b1,u4,10,,2025-03-01T10:00:00Z\n"
    "r7,b1,u4,8,,2025-06-01T10:00:00Z\n"
)


@pytest.fixture
async def admin() -> dict[str, str]:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    return bearer(await token(Role.admin))


async def test_overall_nps_has_counts_and_the_analytics_interval(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/nps", headers=admin)
    assert answer.status_code == 200, answer.text
    (overall,) = answer.json()["groups"]
    assert (overall["promoters"], overall["passives"], overall["detractors"]) == (3, 2, 2)
    assert overall["responses"] == 7 and overall["accounts"] == 3
    expected = nps_interval(3, 2, 2)
    assert overall["nps"] == round(expected.nps, 2)
    assert (overall["ci_low"], overall["ci_high"]) == (
        round(expected.ci_low, 2),
        round(expected.ci_high, 2),
    )
    assert overall["precision"] == "low"


async def test_grouping_by_plan_uses_the_plan_at_answer_time(
    client: Any, admin: dict[str, str]
) -> None:
    await import_csv("accounts", "external_id,name,plan\na1,Acme,free\n")  # changed later
    answer = await client.get("/api/v1/reports/nps?group_by=plan&ci_method=wald", headers=admin)
    groups = {g["key"]: g for g in answer.json()["groups"]}
    assert set(groups) == {"free", "paid", "premium"}
    assert groups["premium"]["responses"] == 3 and groups["premium"]["nps"] is None
    assert groups["premium"]["precision"] == "counts_only"


async def test_grouping_by_quarter_and_filtering_by_date(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=quarter&from=2025-01-01T00:00:00Z&to=2025-06-01T00:00:00Z",
        headers=admin,
    )
    counts = {g["key"]: g["responses"] for g in answer.json()["groups"]}
    assert counts == {"2025-Q1": 4, "2025-Q2": 2}


async def test_filters_narrow_the_responses(client: Any, admin: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=account&csm=ann@example.com", headers=admin
    )
    assert {g["key"] for g in answer.json()["groups"]} == {"a1", "a2"}


async def test_a_csm_sees_only_their_own_accounts(client: Any, admin: dict[str, str]) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    answer = await client.get("/api/v1/reports/nps?group_by=account", headers=bob)
    assert [g["key"] for g in answer.json()["groups"]] == ["b1"]


async def test_csv_escapes_cells_a_spreadsheet_would_run(
    client: Any, admin: dict[str, str]
) -> None:
    await import_csv("accounts", "external_id,name\n=HYPERLINK(1),Evil\n")
    await import_csv(
        "responses", "account_id,user_id,score,answered_at\n=HYPERLINK(1),evil-user,0,2025-01-01\n"
    )
    answer = await client.get("/api/v1/reports/nps?group_by=account&format=csv", headers=admin)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    keys = {r["key"] for r in rows}
    assert "'=HYPERLINK(1)" in keys and "=HYPERLINK(1)" not in keys


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=color", "group_by"),
        ("ci_method=magic", "ci_method"),
        ("confidence=1.5", "confidence"),
        ("from=2025-01-01T00:00:00", "from"),
    ],
)
async def test_bad_parameters_name_the_field(
    client: Any, admin: dict[str, str], query: str, field: str
) -> None:
    answer = await client.get(f"/api/v1/reports/nps?{query}", headers=admin)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == field


async def test_the_report_needs_a_token(client: Any) -> None:
    assert (await client.get("/api/v1/reports/nps")).status_code == 401


async def test_the_saas_churn_file_gives_the_nps_an_independent_count_gives(
    client: Any,
) -> None:
    from feedback.imports.saas_churn import import_saas_churn
    from feedback.imports.services import Importer

    data = SAAS_CHURN.read_bytes()
    await import_saas_churn(Importer(), data, "2025-01-01")
    scores = [int(row["csat_score"]) for row in csv.DictReader(io.StringIO(data.decode()))]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    analyst = bearer(await token(Role.analyst))
    report = await client.get("/api/v1/reports/nps?group_by=company_size", headers=analyst)
    groups = report.json()["groups"]
    assert sum(g["promoters"] for g in groups) == promoters
    assert sum(g["detractors"] for g in groups) == detractors
    overall = (await client.get("/api/v1/reports/nps", headers=analyst)).json()["groups"][0]
    assert overall["nps"] == round(100 * (promoters - detractors) / len(scores), 2)


async def test_a_trend_splits_each_segment_by_quarter(client: Any, admin: dict[str, str]) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=plan&period=quarter", headers=admin)
    assert answer.status_code == 200, answer.text
    cells = {(g["key"], g["period"]): g["responses"] for g in answer.json()["groups"]}
    assert cells == {
        ("premium", "2025-Q1"): 2,
        ("premium", "2025-Q2"): 1,
        ("paid", "2025-Q1"): 1,
        ("paid", "2025-Q2"): 1,
        ("free", "2025-Q1"): 1,
        ("free", "2025-Q2"): 1,
    }
    bad = await client.get("/api/v1/reports/nps?group_by=quarter&period=month", headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "period"


# --- manager, user and custom traits ---------------------------------------------------------

# Ann and Bob report to Boss (book()); Cara reports to Dora; Boss and Dora report to no one.
# Hooli (d1) is the manager Boss's own account, Stark (e1) has no CSM.
ACCOUNT_CSM = {
    "a1": "ann@example.com",
    "a2": "ann@example.com",
    "b1": "bob@example.com",
    "c1": "cara@example.com",
    "d1": "boss@example.com",
    "e1": None,
}
MANAGER_OF = {
    "ann@example.com": "boss@example.com",
    "bob@example.com": "boss@example.com",
    "cara@example.com": "dora@example.com",
    "boss@example.com": None,
    "dora@example.com": None,
}
# custom traits when they answered; the user's win on a clash (u5's region)
ACCOUNT_TRAITS: dict[str, dict[str, Any]] = {
    "a1": {"region": "emea", "tier.level": "gold", "tier": {"level": "nested"}},
    "a2": {"region": "amer"},
    "b1": {"region": "emea", "tier.level": "silver"},
    "c1": {"region": "emea", "tier.level": "gold"},
    "d1": {},
    "e1": {},
}
USER_TRAITS: dict[str, dict[str, Any]] = {
    "u1": {"team": "blue"},
    "u2": {"team": "red"},
    "u5": {"region": "apac", "team": "blue"},
}
ANSWERS = [  # (response id, account, user, score, month of 2025)
    ("r1", "a1", "u1", 10, 1),
    ("r2", "a1", "u2", 9, 2),
    ("r3", "a1", "u1", 6, 4),
    ("r4", "a2", "u3", 7, 1),
    ("r5", "a2", "u3", 3, 5),
    ("r6", "b1", "u4", 10, 3),
    ("r7", "b1", "u4", 8, 6),
    ("r8", "c1", "u5", 9, 3),
    ("r9", "c1", "u5", 2, 4),
    ("r10", "d1", "u6", 10, 2),
    ("r11", "e1", "u7", 0, 5),
    ("r12", "e1", "u7", 9, 6),
]


def snapshot_traits(account: str, user: str) -> dict[str, Any]:
    return {**ACCOUNT_TRAITS[account], **USER_TRAITS.get(user, {})}


def expected_groups(key: Any) -> dict[Any, tuple[int, int, int, int, int]]:
    """(responses, accounts, promoters, passives, detractors) per key(account, user, month),
    from ANSWERS."""
    cells: dict[Any, list[int]] = {}
    accounts: dict[Any, set[str]] = {}
    for _, account, user, score, month in ANSWERS:
        k = key(account, user, month)
        cell = cells.setdefault(k, [0, 0, 0])
        cell[0 if score >= 9 else 1 if score >= 7 else 2] += 1
        accounts.setdefault(k, set()).add(account)
    return {k: (sum(c), len(accounts[k]), *c) for k, c in cells.items()}


def got_groups(body: dict[str, Any]) -> dict[Any, tuple[int, int, int, int, int]]:
    return {
        g["key"]: (g["responses"], g["accounts"], g["promoters"], g["passives"], g["detractors"])
        for g in body["groups"]
    }


@pytest.fixture
async def teams() -> dict[str, str]:
    from feedback.accounts.models import Account, EndUser

    await book()
    result = await import_csv(
        "csms",
        "email,name,manager_email\ndora@example.com,Dora,\ncara@example.com,Cara,dora@example.com\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts",
        "external_id,name,csm_email\nc1,Umbrella,cara@example.com\nd1,Hooli,boss@example.com\n"
        "e1,Stark,\n",
    )
    assert result.ok, result.errors
    result = await import_csv("users", "external_id,account_id\nu5,c1\nu6,d1\nu7,e1\n")
    assert result.ok, result.errors
    for account, traits in ACCOUNT_TRAITS.items():
        await Account.update({Account.traits: traits}).where(Account.external_id == account)
    for user, traits in USER_TRAITS.items():
        await EndUser.update({EndUser.traits: traits}).where(EndUser.external_id == user)
    rows = "".join(f"{r},{a},{u},{s},2025-{m:02d}-15T10:00:00Z\n" for r, a, u, s, m in ANSWERS)
    result = await import_csv(
        "responses", f"response_id,account_id,user_id,score,answered_at\n{rows}"
    )
    assert result.ok, result.errors
    # traits changed after the answers: reports keep the snapshot
    await Account.update({Account.traits: {"region": "changed"}}).where(Account.external_id == "a1")
    return bearer(await token(Role.admin))


async def test_grouping_by_manager_uses_the_manager_of_the_csm_at_answer_time(
    client: Any, teams: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=manager", headers=teams)
    assert answer.status_code == 200, answer.text
    csm_of = ACCOUNT_CSM
    expected = expected_groups(lambda a, *_: MANAGER_OF[csm_of[a]] if csm_of[a] else None)
    # answers without a CSM, or whose CSM has no manager, are the group with key null
    assert set(expected) == {"boss@example.com", "dora@example.com", None}
    assert got_groups(answer.json()) == expected
    by_csm = await client.get("/api/v1/reports/nps?group_by=csm", headers=teams)
    assert None in got_groups(by_csm.json())  # as group_by=csm shows answers without a CSM


async def test_filtering_by_manager_keeps_the_accounts_of_their_team(
    client: Any, teams: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=account&manager=boss@example.com", headers=teams
    )
    expected = expected_groups(
        lambda a, *_: (
            a if ACCOUNT_CSM[a] and MANAGER_OF[ACCOUNT_CSM[a]] == "boss@example.com" else 0
        )
    )
    expected.pop(0)
    assert got_groups(answer.json()) == expected
    assert set(expected) == {"a1", "a2", "b1"}
    nobody = await client.get("/api/v1/reports/nps?manager=ann@example.com", headers=teams)
    assert nobody.json()["groups"][0]["responses"] == 0


async def test_grouping_and_filtering_by_user(client: Any, teams: dict[str, str]) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=user", headers=teams)
    assert answer.status_code == 200, answer.text
    assert got_groups(answer.json()) == expected_groups(lambda _, u, __: u)
    one = await client.get("/api/v1/reports/nps?group_by=plan&user=u1", headers=teams)
    assert got_groups(one.json()) == {"premium": (2, 1, 1, 0, 1)}


async def test_grouping_by_a_trait_uses_the_snapshot_with_the_users_traits_winning(
    client: Any, teams: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=trait:region", headers=teams)
    assert answer.status_code == 200, answer.text
    expected = expected_groups(lambda a, u, _: snapshot_traits(a, u).get("region"))
    assert set(expected) == {"emea", "amer", "apac", None}
    assert got_groups(answer.json()) == expected


async def test_a_trait_name_with_a_dot_is_one_key_not_a_path(
    client: Any, teams: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/nps?group_by=trait:tier.level", headers=teams)
    assert answer.status_code == 200, answer.text
    expected = expected_groups(lambda a, u, _: snapshot_traits(a, u).get("tier.level"))
    assert "nested" not in {g["key"] for g in answer.json()["groups"]}
    assert got_groups(answer.json()) == expected


async def test_trait_filters_combine_with_each_other_and_with_a_trend(
    client: Any, teams: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/nps?group_by=trait:team&trait:region=emea&trait:tier.level=gold",
        headers=teams,
    )
    assert answer.status_code == 200, answer.text

    def team_if_chosen(a: str, u: str, _: int) -> Any:
        traits = snapshot_traits(a, u)
        chosen = traits.get("region") == "emea" and traits.get("tier.level") == "gold"
        return traits.get("team") if chosen else "-"

    expected = expected_groups(team_if_chosen)
    expected.pop("-")
    assert (
        got_groups(answer.json()) == expected == {"blue": (2, 1, 1, 0, 1), "red": (1, 1, 1, 0, 0)}
    )
    trend = await client.get(
        "/api/v1/reports/nps?group_by=trait:region&period=quarter&manager=dora@example.com",
        headers=teams,
    )
    cells = {(g["key"], g["period"]): g["responses"] for g in trend.json()["groups"]}

    def region_and_quarter(a: str, u: str, month: int) -> Any:
        if ACCOUNT_CSM[a] is None or MANAGER_OF[ACCOUNT_CSM[a]] != "dora@example.com":
            return "-"
        return (snapshot_traits(a, u).get("region"), f"2025-Q{(month + 2) // 3}")

    expected_cells = {k: v[0] for k, v in expected_groups(region_and_quarter).items() if k != "-"}
    assert cells == expected_cells == {("apac", "2025-Q1"): 1, ("apac", "2025-Q2"): 1}


async def test_a_trait_value_is_a_bound_parameter(client: Any, teams: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/nps", params={"trait:region": "x' OR '1'='1"}, headers=teams
    )
    assert answer.status_code == 200
    assert answer.json()["groups"][0]["responses"] == 0


async def test_a_csm_sees_only_their_own_accounts_by_manager_user_and_trait(
    client: Any, teams: dict[str, str]
) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    for group_by, key in (
        ("manager", "boss@example.com"),
        ("user", "u4"),
        ("trait:region", "emea"),
    ):
        answer = await client.get(f"/api/v1/reports/nps?group_by={group_by}", headers=bob)
        assert got_groups(answer.json()) == {key: (2, 1, 1, 1, 0)}, group_by


async def test_csv_escapes_user_and_trait_values_a_spreadsheet_would_run(
    client: Any, teams: dict[str, str]
) -> None:
    from feedback.accounts.models import EndUser

    hostile = ["=HYPERLINK(1)", "+1", "-2", "@SUM(1)"]
    await import_csv(
        "users",
        "external_id,account_id\n" + "".join(f"{v},a2\n" for v in hostile),
    )
    for value in hostile:
        await EndUser.update({EndUser.traits: {"team": value}}).where(EndUser.external_id == value)
    await import_csv(
        "responses",
        "account_id,user_id,score,answered_at\n"
        + "".join(f"a2,{v},5,2025-01-01\n" for v in hostile),
    )
    for group_by in ("user", "trait:team"):
        answer = await client.get(
            f"/api/v1/reports/nps?group_by={group_by}&format=csv", headers=teams
        )
        keys = {r["key"] for r in csv.DictReader(io.StringIO(answer.text))}
        assert {"'" + v for v in hostile} <= keys, group_by
        assert not keys & set(hostile), group_by


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=trait:", "group_by"),
        ("group_by=trait:bad%20name", "group_by"),
        ("group_by=trait:x'%3Bdrop", "group_by"),
        ("group_by=trait:" + "x" * 101, "group_by"),
        ("group_by=managers", "group_by"),
        ("trait:bad%20name=1", "trait:bad name"),
        ("trait:=1", "trait:"),
        ("trait:region=emea&trait:region=amer", "trait:region"),
    ],
)
async def test_bad_dimensions_and_trait_names_name_the_field(
    client: Any, teams: dict[str, str], query: str, field: str
) -> None:
    answer = await client.get(f"/api/v1/reports/nps?{query}", headers=teams)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == field


@pytest.mark.parametrize("name", ["plan", "user", "manager", "trait:region"])
async def test_a_nul_character_in_a_filter_is_refused_by_name(
    client: Any, admin: dict[str, str], name: str
) -> None:
    answer = await client.get("/api/v1/reports/nps", params={name: "a\x00b"}, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == name
