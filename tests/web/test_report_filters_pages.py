"""The report pages around their questions: a header with the question for every role,
filters as dropdowns filled from the data and matched whatever the case, the comments page's
defaults and `has_comment` spellings, churned accounts marked in the quadrant, and CSV
downloads with one charset."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token
from tests.support.web import as_role

# Acme (a1, premium) and Globex (a2, paid) are Ann's; Initech (b1, free) is Bob's and churned
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,Love it,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r3,a1,u1,6,Too slow,2025-04-15T10:00:00Z\n"
    "r4,a2,u3,7,,2025-01-20T10:00:00Z\n"
    "r5,b1,u4,10,Initech promoter,2025-03-01T10:00:00Z\n"
    "r6,b1,u4,2,Initech is unhappy,2025-06-01T10:00:00Z\n"
)
QUESTIONS = {
    "/reports/segments": "Which segments are happier or unhappier than the rest?",
    "/reports/my-accounts": "need attention?",
    "/reports/team": "How does each CSM&#39;s book feel about us?",
    "/reports/executive": "Where is NPS going, and who drives it?",
    "/reports/quadrant": "Which accounts should we protect, grow or turn into advocates?",
    "/reports/comments": "What are people saying?",
    "/reports/": "Which question do you want answered?",
}
READ_ALL_ONLY = ("/reports/team", "/reports/executive")


@pytest.fixture
async def data() -> None:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    result = await import_csv(
        "churn", "event_id,account_id,kind,noticed_at\ne1,b1,termination_notice,2025-07-01\n"
    )
    assert result.ok, result.errors


def comments_shown(page: str) -> list[str]:
    return re.findall(r'<td class="comment">([^<]*)</td>', page)


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_opens_with_its_question_for_every_role(
    client: Any, data: None, role: Role
) -> None:
    await as_role(client, role, "ann@example.com" if role is Role.csm else None)
    for path, question in QUESTIONS.items():
        page = await client.get(path)
        if role is Role.csm and path in READ_ALL_ONLY:
            assert page.status_code == 403
            continue
        assert page.status_code == 200, (path, page.text)
        assert page.text.count("<h1") == 1, path
        assert '<p class="question">' in page.text and question in page.text, path


async def test_the_index_is_a_card_per_report_with_its_question(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/")
    assert page.text.count('<section class="card">') >= 9
    assert "Which segments drive churn?" in page.text and 'href="/reports/trends"' in page.text
    await as_role(client, Role.csm, "bob@example.com")
    mine = await client.get("/reports/")
    assert "Which of my accounts need attention?" in mine.text
    assert 'href="/reports/team"' not in mine.text


async def test_the_filters_are_dropdowns_of_the_values_in_the_data(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments")
    plan = page.text.split('<select name="plan">', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]*)"', plan) == ["", "free", "paid", "premium"]
    assert ">premium (3)</option>" in plan
    csm = page.text.split('<select name="csm">', 1)[1].split("</select>", 1)[0]
    assert 'value="ann@example.com"' in csm and ">Ann (4)</option>" in csm
    await as_role(client, Role.csm, "bob@example.com")
    mine = await client.get("/reports/comments")
    plan = mine.text.split('<select name="plan">', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]*)"', plan) == ["", "free"]
    assert '<select name="csm">' not in mine.text  # a CSM's answers are all their own


async def test_a_filter_value_in_another_case_is_kept_selected_and_matches(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments?plan=FREE")
    assert page.status_code == 200
    assert comments_shown(page.text) == ["Initech is unhappy", "Initech promoter"]
    assert '<option value="free" selected>' in page.text
    segments = await client.get("/reports/segments?plan=Free&dimension=role")
    assert segments.status_code == 200
    assert "Initech is unhappy" in segments.text and "Love it" not in segments.text
    csv = await client.get("/reports/comments.csv?plan=FREE")
    assert len(csv.text.strip().splitlines()) == 3 and "Love it" not in csv.text


async def test_the_comments_page_lists_answers_with_a_comment_by_default(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments")
    assert len(comments_shown(page.text)) == 4 and "" not in comments_shown(page.text)
    assert '<option value="yes" selected>with a comment</option>' in page.text
    every = await client.get("/reports/comments?has_comment=all")
    assert len(comments_shown(every.text)) == 6


@pytest.mark.parametrize(
    ("spelling", "shown", "selected"),
    [("yes", 4, "yes"), ("true", 4, "yes"), ("no", 2, "no"), ("false", 2, "no"), ("all", 6, "all")],
)
async def test_the_comments_page_takes_the_api_spelling_of_has_comment(
    client: Any, data: None, spelling: str, shown: int, selected: str
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get(f"/reports/comments?has_comment={spelling}")
    assert page.status_code == 200, page.text
    assert len(comments_shown(page.text)) == shown
    assert f'<option value="{selected}" selected>' in page.text
    csv = await client.get(f"/reports/comments.csv?has_comment={spelling}")
    assert len(csv.text.strip().splitlines()) == shown + 1


async def test_the_api_takes_true_and_false_for_has_comment(client: Any, data: None) -> None:
    headers = bearer(await token(Role.analyst))
    for spelling, total in (("true", 4), ("false", 2)):
        answer = await client.get(
            f"/api/v1/reports/responses?has_comment={spelling}", headers=headers
        )
        assert answer.status_code == 200 and answer.json()["total"] == total


async def test_the_api_takes_the_page_spelling_of_has_comment(client: Any, data: None) -> None:
    headers = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/reports/responses?has_comment=yes", headers=headers)
    assert answer.status_code == 200 and answer.json()["total"] == 4
    answer = await client.get("/api/v1/reports/responses?has_comment=maybe", headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "has_comment"


async def test_csv_downloads_name_their_charset_once(client: Any, data: None) -> None:
    headers = bearer(await token(Role.analyst))
    for path in (
        "/api/v1/reports/nps?group_by=plan&format=csv",
        "/api/v1/reports/responses?format=csv",
    ):
        answer = await client.get(path, headers=headers)
        assert answer.headers.get_list("content-type") == ["text/csv; charset=utf-8"], path
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments.csv")
    assert page.headers.get_list("content-type") == ["text/csv; charset=utf-8"]


async def test_churned_accounts_are_marked_in_the_quadrant(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    # every account is high ARR at 0, and every NPS (Acme +33, Globex and Initech 0) is
    # under 50: all three are to protect, and Initech churned
    page = await client.get("/reports/quadrant?arr_threshold=0&nps_threshold=50")
    assert page.status_code == 200
    protect = page.text.split('id="quadrant-protect"', 1)[1].split("</section>", 1)[0]
    assert "Initech" in protect
    assert '<span class="tag tag-churned">churned 2025-07-01</span>' in protect
    assert "1 of these 3 accounts have churned" in protect
    assert protect.count("tag-churned") == 1  # Acme and Globex have not
    assert "1 churned" in page.text.split('class="kpis"', 1)[1].split("</div>\n</div>", 1)[0]


async def test_the_team_page_says_what_its_numbers_mean(client: Any, data: None) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/team")
    assert "README" not in page.text
    for term in ("<dt>NPS</dt>", "<dt>Interval</dt>", "<dt>Counts only</dt>", "Low precision"):
        assert term in page.text


async def test_empty_pages_say_what_to_do_next(client: Any) -> None:
    await as_role(client, Role.admin)
    for path in ("/reports/my-accounts", "/reports/quadrant", "/reports/comments"):
        page = await client.get(path)
        assert page.status_code == 200 and 'class="empty"' in page.text, path
