"""The churn pages: churn by segment (/reports/churn/segments) and the churn page restyled;
both answer bad input with the page and a message, and a CSM sees only their accounts."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import as_role

# a1 and a2 are Ann's, b1 is Bob's (tests.support.factories.book)
RESPONSES = (
    "account_id,user_id,score,answered_at\n"
    "a1,u1,10,2025-01-15T10:00:00Z\n"
    "a2,u3,3,2025-01-20T10:00:00Z\n"
    "b1,u4,2,2025-03-01T10:00:00Z\n"
)


@pytest.fixture
async def data() -> None:
    await book()
    assert (await import_csv("responses", RESPONSES)).ok
    churn = "account_id,noticed_at\na2,2025-04-01\nb1,2025-05-01\n"
    assert (await import_csv("churn", churn)).ok


async def test_the_segment_page_answers_which_segments_drive_churn(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn/segments?dimension=plan")
    assert page.status_code == 200, page.text
    text = page.text
    assert text.count("<h1") == 1 and "Which segments drive churn?" in text
    assert 'class="table-scroll"' in text and 'class="kpi' in text
    for plan in ("premium", "paid", "free"):
        assert f'<th scope="row">{plan}</th>' in text
    assert svg_count(text, "segment") == 3
    assert 'href="/reports/churn"' in text  # back to the churn page
    assert 'href="/reports/churn/segments.csv?dimension=plan"' in text
    assert not re.search(r"\b(inf|nan)\b", text, re.IGNORECASE)
    # every control has a label
    for name in ("dimension", "window_days", "from", "to", "sort"):
        assert re.search(
            rf'<label class="field"><span>[^<]+</span>\s*<(select|input)[^>]* name="{name}"', text
        ), name


def svg_count(text: str, cls: str) -> int:
    return len(re.findall(rf'class="{cls}"', text))


async def test_the_churn_page_links_to_the_segments_and_says_undefined_ratios_in_words(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn")
    assert page.status_code == 200
    assert 'href="/reports/churn/segments"' in page.text
    assert "Does NPS predict churn?" in page.text and page.text.count("<h1") == 1
    # the one promoter did not churn: the ratios against promoters are not defined
    assert "No churn among promoters: the ratio is not defined" in page.text
    assert "Detractors against other accounts" in page.text
    assert not re.search(r"\b(inf|nan)\b", page.text, re.IGNORECASE)


async def test_the_csv_download_has_the_pages_segments(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    answer = await client.get("/reports/churn/segments.csv?dimension=csm")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    assert set(rows) == {"ann@example.com", "bob@example.com"}
    assert (rows["ann@example.com"]["accounts"], rows["ann@example.com"]["churned"]) == ("2", "1")


async def test_a_csm_sees_only_their_own_segments(client: Any, data: None) -> None:
    await as_role(client, Role.csm, "bob@example.com")
    page = await client.get("/reports/churn/segments?dimension=plan")
    assert page.status_code == 200
    assert '<th scope="row">free</th>' in page.text
    assert '<th scope="row">premium</th>' not in page.text


async def test_an_empty_book_gets_an_empty_state(client: Any) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn/segments?dimension=industry")
    assert page.status_code == 200
    assert 'class="empty"' in page.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dimension=shoe_size", "dimension"),
        ("window_days=0", "window_days"),
        ("sort=nps", "sort"),
        ("from=2025-05-01&to=2025-01-01", "to"),
        ("from=yesterday", "from"),
    ],
)
async def test_bad_parameters_get_the_page_with_a_message(
    client: Any, data: None, query: str, field: str
) -> None:
    await as_role(client, Role.analyst)
    for path in ("/reports/churn/segments", "/reports/churn/segments.csv"):
        answer = await client.get(f"{path}?{query}")
        assert answer.status_code == 422, answer.text
        assert "text/html" in answer.headers["content-type"]
        assert f"Please check <strong>{field}</strong>" in answer.text
