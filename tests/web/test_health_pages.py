"""The health trend pages: each role sees its scope, the numbers on the page are the
snapshots' own (computed again here from the seeded rows), and no snapshots reads well."""

from __future__ import annotations

import re
from datetime import date, timedelta
from statistics import mean
from typing import Any

import pytest

from analytics.health import band_of
from feedback.accounts.models import CSM, Account
from feedback.auth.services import create_staff_user
from feedback.health.models import HealthSnapshot
from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import HOSTILE, PASSWORD, as_role, sign_in

LAST = date(2026, 11, 20)
SPAN = 41  # snapshots from LAST - 40 to LAST
GAP = LAST - timedelta(days=3)  # the job did not run that day
REASSIGNED = 20  # b1 was Ann's until 20 days before LAST, then Bob's


def seeded_score(account: str, back: int) -> float | None:
    """`back` days before LAST. a1 moves into red in the last week, a2 drops 10 points,
    b1 recovers, Carl's c1 falls into red; a2 has no score on one day."""
    if account == "a1":
        return 35 + back * 10 / 7 if back <= 7 else 45 + 0.5 * (back - 7)
    if account == "a2":
        if back == 10:
            return None
        return 65 + back * 10 / 7 if back <= 7 else 75 - 0.2 * (back - 7)
    if account == "b1":
        return 60 - 0.5 * back
    return min(30 + 2.0 * back, 90.0)  # c1


def seeded_csm(account: str, back: int) -> str:
    if account == "b1":
        return "ann@example.com" if back >= REASSIGNED else "bob@example.com"
    return {"a1": "ann@example.com", "a2": "ann@example.com", "c1": "carl@example.com"}[account]


def seeded_rows() -> list[dict[str, Any]]:
    rows = []
    for back in range(SPAN):
        day = LAST - timedelta(days=back)
        if day == GAP:
            continue
        for account in ("a1", "a2", "b1", "c1"):
            score = seeded_score(account, back)
            rows.append(
                {
                    "account": account,
                    "day": day,
                    "score": None if score is None else round(score, 2),
                    "band": band_of(score),
                    "csm": seeded_csm(account, back),
                }
            )
    return rows


def expected_days(
    csms: set[str] | None = None, first: date | None = None
) -> dict[str, dict[str, Any]]:
    """What the page's table per day must say, from the seeded rows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in seeded_rows():
        if csms is not None and row["csm"] not in csms:
            continue
        if first is not None and row["day"] < first:
            continue
        out.setdefault(row["day"].isoformat(), []).append(row)
    return {
        day: {
            "accounts": len(rows),
            "mean": mean(r["score"] for r in rows if r["score"] is not None),
            "bands": [sum(r["band"] == b for r in rows) for b in ("green", "yellow", "red")],
            "unknown": sum(r["band"] == "unknown" for r in rows),
        }
        for day, rows in out.items()
    }


@pytest.fixture
async def snapshots() -> None:
    await book()
    result = await import_csv(
        "csms",
        "email,name,manager_email\nlead@example.com,Lena,\ncarl@example.com,Carl,lead@example.com\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts", "external_id,name,plan,arr,csm_email\nc1,Carlco,paid,5000,carl@example.com\n"
    )
    assert result.ok, result.errors
    accounts = {
        r["external_id"]: r["id"] for r in await Account.select(Account.id, Account.external_id)
    }
    csms = {r["email"]: r["id"] for r in await CSM.select(CSM.id, CSM.email)}
    await HealthSnapshot.insert(
        *[
            HealthSnapshot(
                account=accounts[r["account"]],
                day=r["day"],
                score=r["score"],
                band=r["band"],
                csm=csms[r["csm"]],
                components={"nps": 50.0},
            )
            for r in seeded_rows()
        ]
    )


def table(html: str, cls: str, key: str) -> dict[str, list[str]]:
    """The rows of the table with class `cls`, by their data-`key`, as cell texts."""
    match = re.search(rf'<table class="[^"]*\b{cls}\b[^"]*">(.*?)</table>', html, re.S)
    assert match, f"no table {cls}"
    rows = {}
    for attr, body in re.findall(
        rf'<tr data-{key}="([^"]*)"[^>]*>(.*?)</tr>', match.group(1), re.S
    ):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        rows[attr] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    return rows


def number(text: str) -> float:
    return float(text.split()[0])


# shown to 0.1 from the services' two decimals: off by at most 0.05 + 0.005
CLOSE = 0.056


def assert_days_match(html: str, expected: dict[str, dict[str, Any]]) -> None:
    shown = table(html, "health-days", "day")
    assert set(shown) == set(expected)
    for day, want in expected.items():
        cells = shown[day]
        assert int(cells[1]) == want["accounts"], day
        assert abs(number(cells[2]) - want["mean"]) <= CLOSE, (day, cells[2], want["mean"])
        assert [int(number(c)) for c in cells[3:6]] == want["bands"], day
        assert int(number(cells[6])) == want["unknown"], day


def csm_expectation(email: str) -> dict[str, Any]:
    rows = [r for r in seeded_rows() if r["csm"] == email]

    def mean_on(day: date) -> float | None:
        scores = [r["score"] for r in rows if r["day"] == day and r["score"] is not None]
        return mean(scores) if scores else None

    now = [r for r in rows if r["day"] == LAST]
    return {
        "accounts": len(now),
        "mean": mean_on(LAST),
        "mean_7d": mean_on(LAST - timedelta(days=7)),
        "mean_30d": mean_on(LAST - timedelta(days=30)),
        "bands": [sum(r["band"] == b for r in now) for b in ("green", "yellow", "red", "unknown")],
    }


@pytest.mark.parametrize("path", ["/reports/health", "/reports/health/accounts/a1"])
async def test_the_pages_need_a_signed_in_user(client: Any, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/login?next=")


async def test_the_book_trend_shows_each_days_average_and_bands(
    client: Any, snapshots: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/health?days=30")
    assert page.status_code == 200, page.text
    assert "Health trends: every account" in page.text
    assert_days_match(page.text, expected_days(first=LAST - timedelta(days=29)))
    assert 'id="health-trend"' in page.text and 'id="health-bands"' in page.text
    assert page.text.count('class="line"') == 2  # the gap day breaks the line in two
    assert 'class="zone zone-red"' in page.text and "red: 0 to 40" in page.text
    assert page.text.count('class="area"') == 4 * 2  # four bands, two runs of days
    # a day's tooltip names each band's share and count
    assert "2026-11-20: Red 50% (2), Yellow 50% (2), Green 0% (0), No score 0% (0)" in page.text
    wide = await client.get("/reports/health?days=180")
    assert_days_match(wide.text, expected_days())


async def test_a_csm_sees_only_their_own_accounts(client: Any, snapshots: None) -> None:
    await as_role(client, Role.csm, "ann@example.com")
    # asking for another CSM or a team does not widen the scope
    for query in ("", "&csm=bob@example.com", "&manager=lead@example.com"):
        page = await client.get(f"/reports/health?days=90{query}")
        assert page.status_code == 200, page.text
        assert "Health trends: your accounts" in page.text
        # the trend counts the accounts Ann had each day, b1 until it went to Bob
        assert_days_match(page.text, expected_days({"ann@example.com"}))
        movers = table(page.text, "health-movers", "account")
        assert list(movers) == ["a1", "a2"]
        assert "Carlco" not in page.text and "Initech" not in page.text
        assert "health-csms" not in page.text
        assert 'name="csm"' not in page.text
    assert (await client.get("/reports/health/accounts/a1")).status_code == 200
    other = await client.get("/reports/health/accounts/b1")
    assert other.status_code == 403 and "You cannot open this page" in other.text
    assert "Initech" not in other.text
    missing = await client.get("/reports/health/accounts/nope")
    assert missing.status_code == 404 and "Page not found" in missing.text


async def test_the_movers_list_puts_moves_into_red_first(client: Any, snapshots: None) -> None:
    await as_role(client, Role.admin)
    page = await client.get("/reports/health")
    movers = table(page.text, "health-movers", "account")
    # a1 45 -> 35 and c1 44 -> 30 moved into red (c1 dropped more); a2 dropped 10; b1 rose
    assert list(movers) == ["c1", "a1", "a2"]
    a1 = movers["a1"]
    assert "into red" in a1[0] and a1[2] == "45.0 yellow" and a1[3] == "35.0 red"
    assert a1[4] == "-10.0"
    assert "into red" not in movers["a2"][0] and movers["a2"][3] == "65.0 yellow"
    assert 'href="/reports/health/accounts/a1"' in page.text


async def test_a_manager_sees_their_team_by_csm(client: Any, snapshots: None) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/health?manager=boss@example.com&days=90")
    assert page.status_code == 200, page.text
    assert "Health trends: team of Boss" in page.text
    assert_days_match(page.text, expected_days({"ann@example.com", "bob@example.com"}))
    rows = table(page.text, "health-csms", "csm")
    assert set(rows) == {"ann@example.com", "bob@example.com"}  # not Lena's Carl
    for email, cells in rows.items():
        want = csm_expectation(email)
        assert int(cells[1]) == want["accounts"], email
        assert abs(number(cells[2]) - want["mean"]) <= CLOSE, email
        for cell, before in ((cells[3], want["mean_7d"]), (cells[4], want["mean_30d"])):
            if before is None:
                assert cell == "-", email
            else:
                assert abs(number(cell) - (want["mean"] - before)) <= 2 * CLOSE, (email, cell)
        assert [int(c) for c in cells[5:9]] == want["bands"], email
    # Bob took b1 over 20 days ago: he had no accounts 30 days ago
    assert rows["bob@example.com"][4] == "-"
    link = "/reports/health?manager=boss%40example.com&amp;days=90&amp;csm=ann%40example.com"
    assert f'href="{link}"' in page.text
    assert 'id="health-csm-bars"' in page.text
    assert list(table(page.text, "health-movers", "account")) == ["a1", "a2"]


async def test_the_view_of_one_csm(client: Any, snapshots: None) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/health?csm=bob@example.com&days=180")
    assert page.status_code == 200, page.text
    assert "Health trends: accounts of Bob" in page.text
    assert_days_match(page.text, expected_days({"bob@example.com"}))
    assert "health-csms" not in page.text
    assert table(page.text, "health-movers", "account") == {}  # b1 only rose
    assert "No account moved into red or lost score in these 7 days." in page.text


async def test_the_whole_book_lists_every_csm(client: Any, snapshots: None) -> None:
    await as_role(client, Role.admin)
    page = await client.get("/reports/health")
    rows = table(page.text, "health-csms", "csm")
    assert set(rows) == {"ann@example.com", "bob@example.com", "carl@example.com"}


async def test_a_manager_who_leads_a_team_sees_it_first(client: Any, snapshots: None) -> None:
    await create_staff_user("lead@example.com", Role.manager, PASSWORD)
    assert (await sign_in(client, "lead@example.com")).status_code == 303
    page = await client.get("/reports/health")
    assert "Health trends: team of Lena" in page.text
    assert set(table(page.text, "health-csms", "csm")) == {"carl@example.com"}
    everyone = await client.get("/reports/health?manager=")
    assert "Health trends: every account" in everyone.text


async def test_a_manager_who_leads_no_team_sees_every_account(client: Any, snapshots: None) -> None:
    await create_staff_user("ann@example.com", Role.manager, PASSWORD)  # a CSM, not a lead
    assert (await sign_in(client, "ann@example.com")).status_code == 303
    page = await client.get("/reports/health")
    assert page.status_code == 200 and "Health trends: every account" in page.text


async def test_an_account_id_with_a_nul_is_not_found(client: Any, snapshots: None) -> None:
    await as_role(client, Role.admin)
    answer = await client.get("/reports/health/accounts/a%00b")
    assert answer.status_code == 404 and "Page not found" in answer.text


async def test_an_accounts_history_shows_its_score_and_band_per_day(
    client: Any, snapshots: None
) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/health/accounts/a2?days=30")
    assert page.status_code == 200, page.text
    assert "Health: Globex" in page.text and 'id="health-account"' in page.text
    shown = table(page.text, "health-account-days", "day")
    want = {
        r["day"].isoformat(): r
        for r in seeded_rows()
        if r["account"] == "a2" and r["day"] > LAST - timedelta(days=30)
    }
    assert set(shown) == set(want)
    for day, row in want.items():
        score, band = shown[day][1], shown[day][2]
        assert band == row["band"]
        assert score == ("-" if row["score"] is None else f"{row['score']:.1f}")
    assert "65.0</strong>" in page.text and "yellow" in page.text
    longer = await client.get("/reports/health/accounts/a2?days=180")
    assert len(table(longer.text, "health-account-days", "day")) == SPAN - 1
    # the day with no score leaves a dot out: every other day has one
    assert longer.text.count('class="dot"') == SPAN - 2


async def test_no_snapshots_says_how_to_compute_them(client: Any) -> None:
    await book()
    await as_role(client, Role.admin)
    for path in ("/reports/health", "/reports/health/accounts/a1"):
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "No health snapshots yet" in page.text
        assert "feedback health snapshot" in page.text
        assert "<svg" not in page.text


async def test_one_day_of_snapshots_has_nothing_to_compare_with(client: Any) -> None:
    await book()
    a1 = (await Account.select(Account.id).where(Account.external_id == "a1").first())["id"]
    await HealthSnapshot.insert(HealthSnapshot(account=a1, day=LAST, score=30.0, band="red"))
    await as_role(client, Role.csm, "bob@example.com")
    page = await client.get("/reports/health")
    assert "No snapshots in this window" in page.text
    await as_role(client, Role.admin)
    page = await client.get("/reports/health")
    assert page.status_code == 200
    assert "No snapshots on 2026-11-13 to compare with" in page.text
    assert 'id="health-trend"' in page.text and page.text.count('class="area"') == 4


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/reports/health?days=45", "days"),
        ("/reports/health?csm=nobody@example.com", "csm"),
        ("/reports/health?manager=ann@example.com", "manager"),
        ("/reports/health?csm=%00", "csm"),
        ("/reports/health/accounts/a1?days=7", "days"),
    ],
)
async def test_bad_parameters_get_the_page_with_a_message(
    client: Any, snapshots: None, path: str, field: str
) -> None:
    await as_role(client, Role.admin)
    answer = await client.get(path)
    assert answer.status_code == 422, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert f"Please check <strong>{field}</strong>" in answer.text


async def test_names_are_escaped(client: Any, snapshots: None) -> None:
    await Account.update({Account.name: HOSTILE}).where(Account.external_id == "a1")
    await CSM.update({CSM.name: HOSTILE}).where(CSM.email == "ann@example.com")
    await as_role(client, Role.admin)
    for path in ("/reports/health", "/reports/health/accounts/a1"):
        page = await client.get(path)
        assert page.status_code == 200
        assert HOSTILE not in page.text and "&lt;script&gt;" in page.text, path


async def test_the_dashboards_link_to_the_health_pages(client: Any, snapshots: None) -> None:
    await as_role(client, Role.csm, "ann@example.com")
    mine = await client.get("/reports/my-accounts")
    assert 'href="/reports/health"' in mine.text  # the navigation and the dashboard
    assert 'href="/reports/health/accounts/a1"' in mine.text
    index = await client.get("/reports/")
    main = index.text[index.text.index("<main") :]
    assert main.count('href="/reports/health"') == 1  # besides the navigation's
    await as_role(client, Role.manager)
    team = await client.get("/reports/team?manager=boss@example.com")
    assert 'href="/reports/health?manager=boss%40example.com"' in team.text


async def test_an_accounts_components_read_as_words(client: Any, snapshots: None) -> None:
    account = await Account.select(Account.id).where(Account.external_id == "a1").first()
    await HealthSnapshot.update(
        {
            HealthSnapshot.components: {
                "nps": 40.0,
                "detractor_share": 70.0,
                "metric.weekly_logins": 55.0,
            }
        }
    ).where((HealthSnapshot.account == account["id"]) & (HealthSnapshot.day == LAST))
    await as_role(client, Role.admin)
    page = (await client.get("/reports/health/accounts/a1")).text
    rows = table(page, "compact", "component")
    assert rows == {
        "nps": ["NPS", "40.0"],
        "detractor_share": ["Answers that are not detractors", "70.0"],
        "metric.weekly_logins": ["Usage: weekly logins", "55.0"],
    }
    assert ">detractor_share<" not in page and "<code>" not in page


async def test_the_30_day_change_shows_only_when_snapshots_reach_back_that_far(
    client: Any, snapshots: None
) -> None:
    await as_role(client, Role.admin)
    page = (await client.get("/reports/health")).text
    assert "vs 30 days ago" in page
    assert set(table(page, "health-csms", "csm")["ann@example.com"][4:5]) != {"-"}
    # a book younger than 31 days (as the demo's): no column of dashes, but why
    await HealthSnapshot.delete().where(HealthSnapshot.day < LAST - timedelta(days=29))
    young = (await client.get("/reports/health")).text
    assert "vs 30 days ago" not in young
    assert "shows once snapshots go back that far" in young
    assert all(len(cells) == 8 for cells in table(young, "health-csms", "csm").values())
