"""GET /api/v1/reports/nps: the database sorts the groups and cuts the page; the total counts
every group; CSV exports every group unless a page is asked for."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token

# (account, user, score, month of 2025). u1 answered in Acme (a1) and then in Globex (a2);
# u3 and u4 are deleted below, so their answers form the group without a user.
ANSWERS = [
    *[("a1", "u1", s, m) for s, m in ((10, 1), (9, 2), (10, 3), (6, 4), (9, 5))],
    ("a2", "u1", 3, 6),
    ("a2", "u1", 10, 7),
    *[("a1", "u2", s, m) for s, m in ((2, 1), (3, 2), (8, 4), (9, 5), (4, 6), (0, 7))],
    *[("a2", "u3", s, m) for s, m in ((7, 1), (8, 2))],
    *[("b1", "u4", s, m) for s, m in ((10, 3), (1, 8))],
    *[("a2", "u5", s, m) for s, m in ((9, 1), (9, 2), (10, 4), (10, 5), (8, 6))],
    # many one-answer users: more groups than the default page of 100
    *[("b1", f"p{i:03d}", i % 11, 1 + i % 12) for i in range(110)],
]
LARGEST = ["u1", "u2", "u5", None]


def expected_by(key: Any) -> dict[Any, tuple[int, int, int, int, int]]:
    """(responses, accounts, promoters, passives, detractors) per key(account, user, month)."""
    cells: dict[Any, list[int]] = {}
    accounts: dict[Any, set[str]] = {}
    for account, user, score, month in ANSWERS:
        k = key(account, user, month)
        cell = cells.setdefault(k, [0, 0, 0])
        cell[0 if score >= 9 else 1 if score >= 7 else 2] += 1
        accounts.setdefault(k, set()).add(account)
    return {k: (sum(c), len(accounts[k]), *c) for k, c in cells.items()}


def by_user(account: str, user: str, month: int) -> Any:
    return None if user in ("u3", "u4") else user


def counts_of(groups: list[dict[str, Any]]) -> dict[Any, tuple[int, int, int, int, int]]:
    return {
        (g["key"], g["period"]) if "period" in g else g["key"]: (
            g["responses"],
            g["accounts"],
            g["promoters"],
            g["passives"],
            g["detractors"],
        )
        for g in groups
    }


def nps_of(cell: tuple[int, ...]) -> float | None:
    responses, _, promoters, _, detractors = cell
    return None if responses < 5 else 100 * (promoters - detractors) / responses


@pytest.fixture
async def analyst() -> dict[str, str]:
    from feedback.accounts.models import EndUser

    await book()
    rows = "".join(
        f"r{i},{a},{u},{s},2025-{m:02d}-15T10:00:00Z\n" for i, (a, u, s, m) in enumerate(ANSWERS)
    )
    result = await import_csv(
        "responses", f"response_id,account_id,user_id,score,answered_at\n{rows}"
    )
    assert result.ok, result.errors
    # deleted users: their answers stay, without a user
    await EndUser.delete().where(EndUser.external_id.is_in(["u3", "u4"]))
    return bearer(await token(Role.analyst))


async def get_json(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await client.get("/api/v1/reports/nps", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_by_user_the_largest_groups_come_first_a_page_of_100_with_the_total(
    client: Any, analyst: dict[str, str]
) -> None:
    expected = expected_by(by_user)
    assert len(expected) == 114
    report = await get_json(client, analyst, group_by="user")
    assert (report["sort"], report["limit"], report["offset"]) == ("-responses", 100, 0)
    assert report["total_groups"] == 114
    groups = report["groups"]
    assert len(groups) == 100
    sizes = [g["responses"] for g in groups]
    assert sizes == sorted(sizes, reverse=True)
    assert [g["key"] for g in groups[:3]] == ["u1", "u2", "u5"]
    # every count as the answers give it: u1 answered in two accounts, the deleted users'
    # answers in two more
    got = counts_of(groups)
    assert {k: got[k] for k in LARGEST} == {k: expected[k] for k in LARGEST}
    assert got["u1"][1] == 2 and got[None][1] == 2
    assert all(got[k] == expected[k] for k in got)


async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: Any, analyst: dict[str, str]
) -> None:
    for sort in ("-responses", "responses", "key", "-key", "nps", "-nps"):
        whole = await get_json(client, analyst, group_by="user", sort=sort, limit=1000)
        assert len(whole["groups"]) == whole["total_groups"] == 114
        pages = []
        for offset in range(0, 120, 40):
            page = await get_json(
                client, analyst, group_by="user", sort=sort, limit=40, offset=offset
            )
            assert page["total_groups"] == 114
            pages.extend(page["groups"])
        assert [g["key"] for g in pages] == [g["key"] for g in whole["groups"]], sort
    beyond = await get_json(client, analyst, group_by="user", limit=10, offset=500)
    assert beyond["groups"] == [] and beyond["total_groups"] == 114


async def test_sorting_by_nps_puts_groups_too_small_for_a_score_last(
    client: Any, analyst: dict[str, str]
) -> None:
    expected = expected_by(by_user)
    scored = {k: nps_of(v) for k, v in expected.items() if nps_of(v) is not None}
    assert set(scored) == {"u1", "u2", "u5"}
    worst = await get_json(client, analyst, group_by="user", sort="nps", limit=4)
    assert [g["key"] for g in worst["groups"][:3]] == sorted(scored, key=lambda k: scored[k])
    assert worst["groups"][3]["nps"] is None
    best = await get_json(client, analyst, group_by="user", sort="-nps", limit=3)
    assert [g["key"] for g in best["groups"]] == sorted(scored, key=lambda k: -scored[k])
    # the rest of the pages hold the unscored groups only
    rest = await get_json(client, analyst, group_by="user", sort="-nps", offset=3, limit=200)
    assert len(rest["groups"]) == 111 and all(g["nps"] is None for g in rest["groups"])


async def test_sorting_by_key_names_accounts_in_order(client: Any, analyst: dict[str, str]) -> None:
    up = await get_json(client, analyst, group_by="account", sort="key")
    assert [g["key"] for g in up["groups"]] == ["a1", "a2", "b1"]
    down = await get_json(client, analyst, group_by="account", sort="-key", limit=2)
    assert [g["key"] for g in down["groups"]] == ["b1", "a2"]
    assert down["total_groups"] == 3
    assert counts_of(up["groups"]) == expected_by(lambda a, *_: a)
    users = await get_json(client, analyst, group_by="user", sort="key", limit=3)
    assert [g["key"] for g in users["groups"]] == ["p000", "p001", "p002"]
    last = await get_json(client, analyst, group_by="user", sort="key", offset=113)
    assert [g["key"] for g in last["groups"]] == [None]  # no key: last either way


async def test_small_groupings_answer_every_group_unless_a_page_is_asked_for(
    client: Any, analyst: dict[str, str]
) -> None:
    plan = await get_json(client, analyst, group_by="plan")
    assert plan["limit"] == 1000 and plan["sort"] == "key"
    assert [g["key"] for g in plan["groups"]] == ["free", "paid", "premium"]
    largest = await get_json(client, analyst, group_by="plan", sort="-responses", limit=1)
    assert [g["key"] for g in largest["groups"]] == ["free"]
    assert largest["total_groups"] == 3
    overall = await get_json(client, analyst)
    assert overall["total_groups"] == 1 and overall["groups"][0]["responses"] == len(ANSWERS)


async def test_a_trend_pages_by_group_with_every_period_of_each(
    client: Any, analyst: dict[str, str]
) -> None:
    report = await get_json(
        client, analyst, group_by="user", period="quarter", sort="-responses", limit=2
    )
    assert report["total_groups"] == 114
    quarter = {1: "Q1", 2: "Q1", 3: "Q1", 4: "Q2", 5: "Q2", 6: "Q2", 7: "Q3", 8: "Q3"}

    def user_and_quarter(a: str, u: str, month: int) -> Any:
        return (by_user(a, u, month), f"2025-{quarter.get(month, 'Q4')}")

    expected = {k: v for k, v in expected_by(user_and_quarter).items() if k[0] in ("u1", "u2")}
    assert counts_of(report["groups"]) == expected
    assert [(g["key"], g["period"]) for g in report["groups"]] == [
        ("u1", "2025-Q1"),
        ("u1", "2025-Q2"),
        ("u1", "2025-Q3"),
        ("u2", "2025-Q1"),
        ("u2", "2025-Q2"),
        ("u2", "2025-Q3"),
    ]
    # in Q2 u1 answered from two accounts (Acme in April and May, Globex in June)
    assert counts_of(report["groups"])[("u1", "2025-Q2")][1] == 2
    second = await get_json(
        client, analyst, group_by="user", period="quarter", sort="-responses", limit=1, offset=2
    )
    assert {g["key"] for g in second["groups"]} == {"u5"}
    beyond = await get_json(client, analyst, group_by="user", period="quarter", offset=500)
    assert beyond["groups"] == [] and beyond["total_groups"] == 114


@pytest.mark.parametrize(
    ("query", "field", "status"),
    [
        ("group_by=user&sort=color", "sort", 422),
        ("group_by=user&limit=0", "limit", 422),
        ("group_by=user&limit=1001", "limit", 422),
        ("group_by=user&offset=-1", "offset", 422),
        ("group_by=user&limit=many", "limit", 400),
        ("group_by=user&format=csv&sort=size", "sort", 422),
        ("group_by=user&format=csv&trait:a%20b=1", "trait:a b", 422),
    ],
)
async def test_bad_paging_values_name_the_field(
    client: Any, analyst: dict[str, str], query: str, field: str, status: int
) -> None:
    answer = await client.get(f"/api/v1/reports/nps?{query}", headers=analyst)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"][0]["field"] == field


async def test_csv_exports_every_group_unless_a_page_is_asked_for(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/nps", params={"group_by": "user", "format": "csv"}, headers=analyst
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 114
    expected = expected_by(by_user)
    got = {
        r["key"] or None: tuple(
            int(r[c]) for c in ("responses", "accounts", "promoters", "passives", "detractors")
        )
        for r in rows
    }
    assert got == expected
    page = await client.get(
        "/api/v1/reports/nps",
        params={"group_by": "user", "format": "csv", "sort": "key", "limit": 5, "offset": 10},
        headers=analyst,
    )
    keys = [r["key"] for r in csv.DictReader(io.StringIO(page.text))]
    assert keys == [f"p{i:03d}" for i in range(10, 15)]


async def test_a_trend_csv_has_the_period(client: Any, analyst: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/nps",
        params={"group_by": "plan", "period": "quarter", "format": "csv"},
        headers=analyst,
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0])[:2] == ["key", "period"]
    assert {(r["key"], r["period"]) for r in rows} >= {("free", "2025-Q1"), ("paid", "2025-Q3")}
    assert sum(int(r["responses"]) for r in rows) == len(ANSWERS)


async def test_a_csm_pages_through_their_own_accounts_users_only(
    client: Any, analyst: dict[str, str]
) -> None:
    bob = bearer(await token(Role.csm, "bob@example.com"))
    report = await get_json(client, bob, group_by="user", limit=5)
    # Initech (b1) is Bob's: the 110 one-answer users and the deleted u4
    assert report["total_groups"] == 111
    assert len(report["groups"]) == 5
    assert {g["key"] for g in report["groups"]} <= {f"p{i:03d}" for i in range(110)} | {None}
