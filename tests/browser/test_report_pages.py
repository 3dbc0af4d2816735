"""The report pages in Chromium, on the demo data: signed in, every page draws its charts
under the strict CSP, without a single violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from feedback.accounts.models import Account
from feedback.demo import DEFAULT_DEMO_PASSWORD, load_demo

# an init script is not subject to the page's CSP: it only records what the CSP blocks
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
# path, the charts it draws, and the bar chart whose segments match a table's rows
PAGES: list[tuple[str, tuple[str, ...]]] = [
    ("/reports/segments?dimension=plan", ("#segments-bars", "#segments-trend")),
    ("/reports/segments?dimension=industry&segment=Retail", ("#segments-bars", "#segments-trend")),
    ("/reports/my-accounts", ("#accounts-bars", "#accounts-trend")),
    ("/reports/team", ("#team-bars", "#team-trend", "#team-csm-trend")),
    ("/reports/executive", ("#executive-bars", "#executive-trend")),
    ("/reports/quadrant?nps_threshold=10", ("#quadrant-scatter",)),
    ("/reports/churn", ("#churn-rates", "#churn-survival")),
    ("/reports/health", ("#health-trend", "#health-bands", "#health-csm-bars")),
    (
        "/reports/health?manager=maria.lead@example.com&days=180",
        ("#health-trend", "#health-bands", "#health-csm-bars"),
    ),
    ("/reports/health?csm=alex@example.com&days=30", ("#health-trend", "#health-bands")),
    ("/reports/health/accounts/acct-0001", ("#health-account",)),
]


async def sign_in(page: Any, service: str, email: str) -> None:
    await page.goto(f"{service}/login?next=/reports/")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Reports")).to_be_visible()


async def box(locator: Any) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None
    return found


@pytest.fixture
async def demo() -> None:
    await load_demo()


@pytest.fixture
async def watched(context: Any) -> Any:
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda m: page.console_errors.append(m.text) if m.type == "error" else None,
    )
    return page


async def test_an_admin_sees_every_report_page_drawn(
    watched: Any, service: str, demo: None, tmp_path: Path
) -> None:
    page = watched
    await sign_in(page, service, "admin@example.com")
    for path, charts in PAGES:
        answer = await page.goto(service + path)
        assert answer is not None and answer.status == 200, path
        for selector in charts:
            chart = page.locator(f"svg{selector}")
            await expect(chart).to_be_visible()
            size = await box(chart)
            assert size["width"] > 100 and size["height"] > 50, (path, selector, size)
            assert await chart.get_attribute("role") == "img"
            marks = chart.locator("rect.bar, polyline.line, circle.dot, path.step, polygon.area")
            assert await marks.count() > 0, (path, selector)
            first = await box(marks.first)
            assert first["width"] > 0 or first["height"] > 0, (path, selector)
        name = re.sub(r"[^A-Za-z0-9.-]+", "-", path.strip("/"))
        await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        assert await page.evaluate("window.cspViolations") == [], path
        assert [e for e in page.console_errors if "Content Security Policy" in e] == [], path


async def test_the_segment_bars_match_the_segments_in_the_table(
    watched: Any, service: str, demo: None
) -> None:
    page = watched
    await sign_in(page, service, "analyst@example.com")
    await page.goto(f"{service}/reports/segments?dimension=industry")
    rows = await page.locator("section.card table").first.locator("tbody tr").count()
    segments = page.locator("svg#segments-bars g.segment")
    assert rows == 7 and await segments.count() == rows  # the demo's seven industries
    bars = page.locator("svg#segments-bars rect.bar")
    assert await bars.count() == rows  # every industry has enough answers for a score
    for i in range(rows):
        size = await box(bars.nth(i))
        assert size["width"] >= 1 and size["height"] > 5
    whiskers = page.locator("svg#segments-bars line.whisker.low")
    assert await whiskers.count() == rows
    # the band of the trend is drawn, and has an area
    band = await box(page.locator("svg#segments-trend polygon.band").first)
    assert band["width"] > 100 and band["height"] > 5
    assert await page.evaluate("window.cspViolations") == []


async def test_a_csm_sees_their_own_accounts_and_not_the_team_pages(
    watched: Any, service: str, demo: None
) -> None:
    page = watched
    await sign_in(page, service, "csm@example.com")
    await page.goto(f"{service}/reports/my-accounts")
    await expect(page.get_by_role("heading", name="My accounts")).to_be_visible()
    owners = await page.locator("table.responses tbody td:nth-child(8)").all_inner_texts()
    assert owners and set(owners) == {"alex@example.com"}
    answer = await page.goto(f"{service}/reports/team")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    assert await page.evaluate("window.cspViolations") == []


async def test_the_health_pages_stack_the_bands_and_link_each_account(
    watched: Any, service: str, demo: None
) -> None:
    page = watched
    await sign_in(page, service, "csm@example.com")
    await page.goto(f"{service}/reports/health")
    await expect(page.get_by_role("heading", name="Health trends: your accounts")).to_be_visible()
    # the bands of a day stack to the full height of the plot
    slices = page.locator("svg#health-bands rect.slice")
    days = await slices.count()
    assert days == 31  # the demo's 31 days of snapshots (the change against 30 days before)
    label = await slices.last.get_attribute("aria-label")
    assert label is not None and label.count("%") == 4
    areas = page.locator("svg#health-bands polygon.area")
    assert await areas.count() == 4
    plot = await box(slices.last)
    stacked = [await box(areas.nth(i)) for i in range(4)]
    top = min(a["y"] for a in stacked)
    bottom = max(a["y"] + a["height"] for a in stacked)
    assert abs(top - plot["y"]) < 2 and abs(bottom - (plot["y"] + plot["height"])) < 2
    # the CSM dashboard links each account's health to its history
    await page.goto(f"{service}/reports/my-accounts")
    await page.locator("td.health a").first.click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Health: "))).to_be_visible()
    assert await page.locator("table.health-account-days tbody tr").count() == days
    assert await page.locator("svg#health-account circle.dot").count() > 0
    # another CSM's account is refused
    other = (
        await Account.select(Account.external_id)
        .where(Account.csm.email != "alex@example.com")
        .first()
    )
    answer = await page.goto(f"{service}/reports/health/accounts/{other['external_id']}")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    assert await page.evaluate("window.cspViolations") == []
