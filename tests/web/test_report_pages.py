"""The report pages: each role sees what it may, a CSM only their own accounts, and bad
query parameters come back as the page with a message, never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import HOSTILE, as_role

# Acme (a1) and Globex (a2) are Ann's, Initech (b1) is Bob's; both report to Boss
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,Love it,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a1,u1,6,Too slow,2025-04-15T10:00:00Z\n"
    "r4,a1,u2,10,Great support,2025-04-20T10:00:00Z\n"
    "r5,a1,u1,9,,2025-05-01T10:00:00Z\n"
    "r6,a2,u3,7,,2025-01-20T10:00:00Z\n"
    f'r7,a2,u3,3,"{HOSTILE.replace(chr(34), chr(34) * 2)}",2025-05-20T10:00:00Z\n'
    "r8,b1,u4,10,Initech promoter,2025-03-01T10:00:00Z\n"
    "r9,b1,u4,2,Initech is unhappy,2025-06-01T10:00:00Z\n"
)
PAGES = (
    "/reports/",
    "/reports/segments",
    "/reports/my-accounts",
    "/reports/team",
    "/reports/executive",
    "/reports/quadrant",
    "/reports/churn",
    "/reports/comments",
)


@pytest.fixture
async def data() -> None:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    result = await import_csv(
        "churn", "event_id,account_id,kind,noticed_at\ne1,b1,termination_notice,2025-07-01\n"
    )
    assert result.ok, result.errors


def svg_count(text: str, cls: str) -> int:
    return len(re.findall(rf'class="{cls}"', text))


@pytest.mark.parametrize("path", PAGES)
async def test_pages_need_a_signed_in_user(client: Any, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("role", [Role.admin, Role.manager, Role.analyst])
async def test_every_page_renders_with_charts_for_roles_that_read_everything(
    client: Any, data: None, role: Role
) -> None:
    await as_role(client, role)
    for path in PAGES:
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert "text/html" in answer.headers["content-type"]
    home = await client.get("/", follow_redirects=True)
    assert 'href="/reports/"' in home.text


async def test_the_segment_explorer_draws_one_bar_row_per_segment(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=plan")
    assert page.status_code == 200
    # premium (a1: 5 answers), paid (a2: 2), free (b1: 2)
    assert svg_count(page.text, "segment flagged") == 3
    assert page.text.count('class="bar"') == 1  # only premium has 5 answers: a bar
    assert "counts only: under 5 answers" in page.text
    assert 'role="img"' in page.text and "<title" in page.text
    assert 'class="line"' in page.text and 'class="band"' in page.text


async def test_choosing_a_segment_shows_its_comments_and_promoters(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=plan&segment=free")
    assert "Initech is unhappy" in page.text and "Initech promoter" in page.text
    assert "Love it" not in page.text  # premium's
    assert "for plan free" in page.text


async def test_the_segment_scan_table_shows_p_and_adjusted_p(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=csm")
    # two CSMs, one account for Bob: the cluster-robust comparison needs two on each side
    assert "Too few accounts to compare" in page.text
    page = await client.get("/reports/segments?dimension=role")
    assert "Adjusted p" in page.text and "Benjamini-Hochberg" in page.text
    assert page.text.count('<td class="num">') > 0


async def test_user_text_is_escaped_in_the_pages(client: Any, data: None) -> None:
    await as_role(client, Role.admin)
    for path in ("/reports/segments", "/reports/comments", "/reports/my-accounts"):
        page = await client.get(path)
        assert HOSTILE not in page.text, path
        assert "&lt;script&gt;" in page.text, path
    page = await client.get(f"/reports/segments?dimension=plan&segment={HOSTILE}")
    assert page.status_code == 200 and HOSTILE not in page.text


async def test_a_csm_sees_only_their_own_accounts_everywhere(client: Any, data: None) -> None:
    await as_role(client, Role.csm, "bob@example.com")
    mine = await client.get("/reports/my-accounts")
    assert mine.status_code == 200
    assert "Initech" in mine.text and "Acme" not in mine.text and "Globex" not in mine.text
    assert "Initech is unhappy" in mine.text
    # asking for another CSM's book does not widen the scope
    other = await client.get("/reports/my-accounts?csm=ann@example.com")
    assert "Acme" not in other.text and "Initech" in other.text
    segments = await client.get("/reports/segments?dimension=account")
    assert "b1" in segments.text and ">a1<" not in segments.text
    comments = await client.get("/reports/comments")
    assert "Initech" in comments.text and "Love it" not in comments.text
    quadrant = await client.get("/reports/quadrant?arr_threshold=1")
    assert "Acme" not in quadrant.text
    csv = await client.get("/reports/comments.csv")
    assert csv.status_code == 200 and "Initech is unhappy" in csv.text
    assert "Love it" not in csv.text


@pytest.mark.parametrize("path", ["/reports/team", "/reports/executive"])
async def test_a_csm_cannot_open_the_team_dashboards(client: Any, data: None, path: str) -> None:
    await as_role(client, Role.csm, "ann@example.com")
    answer = await client.get(path)
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]
    assert "You cannot open this page" in answer.text
    index = await client.get("/reports/")
    assert 'href="/reports/team"' not in index.text


async def test_the_manager_dashboard_shows_each_csm_and_the_team_trend(
    client: Any, data: None
) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/team?manager=boss@example.com")
    assert page.status_code == 200
    assert "Ann" in page.text and "Bob" in page.text
    assert svg_count(page.text, "segment") + svg_count(page.text, "segment flagged") == 2
    assert "Team NPS by quarter" in page.text and "2025-Q2" in page.text
    assert 'id="team-csm-trend"' in page.text
    csm_trend = page.text.split('id="team-csm-trend"', 1)[1].split("</svg>", 1)[0]
    assert "Ann" in csm_trend and "Bob" in csm_trend  # a line per CSM, named
    unknown = await client.get("/reports/team?manager=nobody@example.com")
    assert unknown.status_code == 422 and "not a manager of any CSM" in unknown.text


async def test_the_executive_dashboard_rolls_csms_up_to_their_manager(
    client: Any, data: None
) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/executive")
    assert page.status_code == 200
    # Ann's and Bob's 9 answers roll up to Boss: 5 promoters, 1 passive, 3 detractors
    assert "Boss" in page.text and "5 / 1 / 3" in page.text
    assert "Overall NPS by quarter" in page.text


async def test_the_quadrant_thresholds_come_from_the_form(client: Any, data: None) -> None:
    await as_role(client, Role.admin)
    page = await client.get("/reports/quadrant?nps_threshold=50&arr_threshold=100000")
    assert page.status_code == 200
    assert "ARR $100,000" in page.text and "NPS +50.0" in page.text
    assert 'class="threshold x-threshold"' in page.text
    assert page.text.count('class="dot ') == 3


async def test_the_churn_page_shows_rates_risk_and_survival(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn?window_days=400")
    assert page.status_code == 200
    assert "Fisher" in page.text and "Log-rank p" in page.text
    assert 'class="step"' in page.text
    assert svg_count(page.text, "segment") == 4  # detractor, passive, promoter, non-respondent


async def test_the_comments_explorer_searches_and_exports(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments?q=initech&category=detractor")
    assert "Initech is unhappy" in page.text and "Initech promoter" not in page.text
    assert "/reports/comments.csv?q=initech&amp;category=detractor" in page.text
    csv = await client.get("/reports/comments.csv?q=initech&category=detractor")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("answered_at,score,category,comment") and len(lines) == 2


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/reports/segments?dimension=shoe_size", "dimension"),
        ("/reports/segments?from=yesterday", "from"),
        ("/reports/segments?from=2025-05-01&to=2025-01-01", "to"),
        ("/reports/segments?period=week", "period"),
        ("/reports/segments?confidence=2", "confidence"),
        ("/reports/quadrant?nps_threshold=abc", "nps_threshold"),
        ("/reports/quadrant?arr_threshold=-5", "arr_threshold"),
        ("/reports/churn?window_days=0", "window_days"),
        ("/reports/churn?window_days=1.5", "window_days"),
        ("/reports/comments?category=fan", "category"),
        ("/reports/comments?has_comment=maybe", "has_comment"),
        ("/reports/comments?offset=-1", "offset"),
        ("/reports/my-accounts?to=2025-13-01", "to"),
        ("/reports/executive?from=2025-02-30", "from"),
        ("/reports/comments?q=a%00b", "q"),
        ("/reports/segments?plan=%00", "plan"),
        ("/reports/segments?dimension=trait", "trait"),
        ("/reports/segments?dimension=trait&trait=a%20b", "trait"),
        ("/reports/segments?trait:a%20b=1", "trait:a b"),
        ("/reports/comments?trait:a%20b=1", "trait:a b"),
    ],
)
async def test_bad_parameters_get_the_page_with_a_message(
    client: Any, data: None, path: str, field: str
) -> None:
    await as_role(client, Role.admin)
    answer = await client.get(path)
    assert answer.status_code == 422, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert f"Please check <strong>{field}</strong>" in answer.text


async def test_extreme_dates_are_answered(client: Any, data: None) -> None:
    await as_role(client, Role.admin)
    answer = await client.get("/reports/segments?from=0001-01-01&to=9999-12-31")
    assert answer.status_code == 200 and "premium" in answer.text


async def test_a_bad_csv_request_is_a_4xx_page(client: Any, data: None) -> None:
    await as_role(client, Role.admin)
    answer = await client.get("/reports/comments.csv?category=fan")
    assert answer.status_code == 422 and "category" in answer.text


async def test_empty_data_renders_every_page(client: Any) -> None:
    await as_role(client, Role.admin)
    for path in PAGES:
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)


async def test_a_manager_team_leaves_out_other_teams(client: Any, data: None) -> None:
    result = await import_csv(
        "csms",
        "email,name,manager_email\nlead@example.com,Lena,\ncarl@example.com,Carl,lead@example.com\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts", "external_id,name,plan,arr,csm_email\nc1,Carlco,paid,5000,carl@example.com\n"
    )
    assert result.ok, result.errors
    await import_csv("users", "external_id,account_id\nu9,c1\n")
    result = await import_csv(
        "responses",
        "response_id,account_id,user_id,score,answered_at\n"
        + "".join(f"c{i},c1,u9,{i},2025-0{1 + i % 6}-10T10:00:00Z\n" for i in range(6)),
    )
    assert result.ok, result.errors
    await as_role(client, Role.manager)
    boss = await client.get("/reports/team?manager=boss@example.com")
    assert "Ann" in boss.text and "Carl" not in boss.text
    lena = await client.get("/reports/team?manager=lead@example.com")
    assert "Carl" in lena.text and "Ann" not in lena.text
    assert "6 / 0 / 0" not in lena.text and "0 / 0 / 6" in lena.text
    executive = await client.get("/reports/executive")
    assert "Boss" in executive.text and "Lena" in executive.text


async def test_my_accounts_shows_each_accounts_health(client: Any, data: None) -> None:
    from datetime import date, timedelta

    from feedback.accounts.models import Account
    from feedback.health.models import HealthSnapshot

    a1 = (await Account.select(Account.id).where(Account.external_id == "a1").first())["id"]
    day = date(2026, 11, 20)
    await HealthSnapshot.insert(
        HealthSnapshot(account=a1, day=day - timedelta(days=7), score=70.0, band="green"),
        HealthSnapshot(account=a1, day=day, score=41.0, band="red"),
    )
    await as_role(client, Role.csm, "ann@example.com")
    page = await client.get("/reports/my-accounts")
    assert page.status_code == 200
    assert "41 red" in page.text and "\u221229 in 7 d" in page.text and "(2026-11-20)" in page.text


async def test_the_executive_dashboard_shows_retention_by_quarter(client: Any, data: None) -> None:
    from datetime import UTC, datetime

    from feedback.accounts.models import Account

    await Account.update({Account.created_at: datetime(2024, 1, 1, tzinfo=UTC)}).where(
        Account.id > 0
    )
    await as_role(client, Role.manager)
    page = await client.get("/reports/executive")
    assert page.status_code == 200 and "Retention by quarter" in page.text
    # the three accounts began every quarter of the last two years; each row has its rates
    section = page.text.split("Retention by quarter", 1)[1]
    rows = re.findall(r'<tr><th scope="row">\d{4}-Q\d.*?</tr>', section, re.S)
    assert len(rows) >= 7 and all(r.count("%</td>") == 3 for r in rows), rows[:2]
    assert '<td class="num">3</td><td class="num">3</td>' in rows[0]


async def test_the_segment_explorer_groups_by_manager_and_by_user(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=manager")
    assert page.status_code == 200, page.text
    assert "NPS by manager" in page.text and ">boss@example.com</a>" in page.text
    # Ann and Bob both report to Boss: one manager, nothing to compare with
    assert "Too few accounts to compare" in page.text
    page = await client.get("/reports/segments?dimension=user&segment=u4")
    assert page.status_code == 200, page.text
    assert all(f">{u}</a>" in page.text for u in ("u1", "u2", "u3", "u4"))
    assert "Initech is unhappy" in page.text and "Love it" not in page.text
    assert "Not available by account or user" in page.text


async def test_the_segment_explorer_groups_by_a_custom_trait(client: Any, data: None) -> None:
    from feedback.accounts.models import Account
    from feedback.responses.models import Response

    for account, region in (("a1", "emea"), ("a2", "emea"), ("b1", "amer")):
        found = await Account.select(Account.id).where(Account.external_id == account).first()
        await Response.update({Response.traits: {"region": region}}).where(
            Response.account == found["id"]
        )
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=trait&trait=region&segment=amer")
    assert page.status_code == 200, page.text
    assert "NPS by trait region" in page.text
    assert ">emea</a>" in page.text and ">amer</a>" in page.text
    assert "Initech is unhappy" in page.text and "Love it" not in page.text
    assert "trait%3Aregion=amer" in page.text  # the comments explorer link keeps the trait
    comments = await client.get("/reports/comments?trait:region=emea")
    assert comments.status_code == 200, comments.text
    assert "Love it" in comments.text and "Initech" not in comments.text
    # kept in the form, as a dropdown of the trait's values
    assert '<select name="trait:region">' in comments.text
    assert '<option value="emea" selected>' in comments.text


@pytest.mark.parametrize("path", ["/reports/team", "/reports/executive"])
async def test_a_csm_is_refused_the_team_pages_with_the_error_page(
    client: Any, data: None, path: str
) -> None:
    await as_role(client, Role.csm, "ann@example.com")
    answer = await client.get(path)
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]
    assert "You cannot open this page" in answer.text
