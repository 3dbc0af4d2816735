"""The report pages read production answers unless `environment=` names another: the filter
bar offers the choice, a banner under the header says which data a page shows, and the
links that carry filters (pagers, sort headers, drill-downs, CSV) keep the environment."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.web import as_role

from .conftest import STAGING

BANNER = '<p class="env-banner" role="status"><strong>Staging data.</strong>'

PAGES = [
    "/reports/segments",
    "/reports/my-accounts",
    "/reports/team",
    "/reports/executive",
    "/reports/quadrant",
    "/reports/churn",
    "/reports/churn/segments",
    "/reports/comments",
    "/reports/trends",
    "/insights",
]


def links(page: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def after_header(page: str) -> str:
    """What comes right after the page header."""
    return page[page.index("</header>", page.index('class="page-head"')) :].lstrip()[9:].lstrip()


@pytest.fixture
async def analyst(client: Any, answers: None) -> Any:
    await as_role(client, Role.analyst)
    return client


@pytest.mark.parametrize("path", PAGES)
async def test_a_staging_page_says_so_under_its_header_and_offers_the_choice(
    analyst: Any, path: str
) -> None:
    page = await analyst.get(path, params={"environment": "staging"})
    assert page.status_code == 200, page.text
    assert after_header(page.text).startswith(BANNER)
    assert '<option value="staging" selected>Staging</option>' in page.text
    (back,) = re.findall(r'<a href="([^"]*)">Show production</a>', page.text)
    assert unescape(back).split("?")[0] == path and "environment" not in back


@pytest.mark.parametrize("path", PAGES)
async def test_a_production_page_has_no_banner(analyst: Any, path: str) -> None:
    page = await analyst.get(path)
    assert page.status_code == 200, page.text
    assert "env-banner" not in page.text
    assert '<option value="" selected>Production</option>' in page.text


@pytest.mark.parametrize("path", PAGES)
async def test_a_bad_environment_is_the_page_naming_environment(analyst: Any, path: str) -> None:
    page = await analyst.get(path, params={"environment": "qa"})
    assert page.status_code == 422, page.text
    assert "<strong>environment</strong>" in page.text
    assert "production, staging, development" in page.text


async def test_the_segment_explorer_counts_and_links_in_the_environment(analyst: Any) -> None:
    page = await analyst.get(
        "/reports/segments", params={"dimension": "plan", "environment": "staging"}
    )
    assert page.status_code == 200, page.text
    assert STAGING in page.text and "love it" not in page.text
    assert ">free</a>" in page.text and ">paid</a>" not in page.text  # staging's plans
    report_links = [h for h in links(page.text) if h.startswith("/reports/")]
    drill = [h for h in report_links if "segment=" in h or "sort=" in h or "comments?" in h]
    assert drill and all("environment=staging" in h for h in drill)
    production = await analyst.get("/reports/segments", params={"dimension": "plan"})
    assert STAGING not in production.text and "love it" in production.text
    assert ">free</a>" not in production.text and "environment=" not in production.text


async def test_the_comments_pager_and_csv_keep_the_environment(analyst: Any) -> None:
    page = await analyst.get("/reports/comments", params={"environment": "staging"})
    assert page.status_code == 200, page.text
    csv_link = next(h for h in links(page.text) if h.startswith("/reports/comments.csv"))
    assert "environment=staging" in csv_link
    export = await analyst.get(csv_link)
    assert export.status_code == 200
    assert export.text.count(STAGING) == 10 and "love it" not in export.text
    default = await analyst.get("/reports/comments.csv")
    assert STAGING not in default.text and default.text.count("love it") == 6


async def test_the_comments_pager_keeps_the_environment(analyst: Any, client: Any) -> None:
    page = await analyst.get("/reports/comments", params={"environment": "staging", "offset": "50"})
    assert page.status_code == 200, page.text
    previous = [h for h in links(page.text) if h.startswith("/reports/comments?")]
    assert previous and all("environment=staging" in h for h in previous)


async def test_churn_pages_classify_accounts_by_the_environment(analyst: Any) -> None:
    page = await analyst.get("/reports/churn/segments", params={"environment": "staging"})
    assert page.status_code == 200, page.text
    csv_link = next(h for h in links(page.text) if h.startswith("/reports/churn/segments.csv"))
    assert "environment=staging" in csv_link
    export = await analyst.get(csv_link)
    assert {line.split(",")[0] for line in export.text.splitlines()[1:]} == {
        "free",
        "paid",
        "premium",
    }
    default = await analyst.get("/reports/churn/segments.csv")
    assert {line.split(",")[0] for line in default.text.splitlines()[1:]} == {"paid", "premium"}
    churn = await analyst.get("/reports/churn", params={"environment": "staging"})
    assert "/reports/churn/segments?environment=staging" in links(churn.text)


async def test_the_trend_page_and_its_csv_keep_the_environment(analyst: Any) -> None:
    page = await analyst.get(
        "/reports/trends", params={"dimension": "plan", "environment": "staging"}
    )
    assert page.status_code == 200, page.text
    csv_link = next(h for h in links(page.text) if h.startswith("/reports/trends.csv"))
    assert "environment=staging" in csv_link
    export = await analyst.get(csv_link)
    assert {line.split(",")[1] for line in export.text.splitlines()[1:]} == {
        "All",
        "premium",
        "free",
    }
    assert "/reports/segments?environment=staging" in links(page.text)


async def test_insights_links_carry_the_environment(analyst: Any) -> None:
    page = await analyst.get("/insights", params={"environment": "staging"})
    assert page.status_code == 200, page.text
    report_links = [h for h in links(after_header(page.text)) if h.startswith("/reports/")]
    themes = [h for h in report_links if h.startswith(("/reports/themes", "/reports/comments"))]
    carried = [h for h in report_links if h not in themes]
    assert carried and all("environment=staging" in h for h in carried)
    assert "Themes are counted from production answers only" in page.text
