"""Today and the account page in Chromium, for a CSM and a manager: the sections and their
links, and the keyboard (Tab to an action, Enter to submit) under the strict CSP."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from feedback.auth.services import create_staff_user
from feedback.ctas.models import Cta
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from tests.api.today.scenario import Book, build
from tests.support.web import PASSWORD

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
async def book() -> Book:
    book = await build(utcnow())
    await create_staff_user("ann.user@example.com", Role.csm, PASSWORD, csm_id=book.csm["ann"])
    await create_staff_user(
        "boss.user@example.com", Role.manager, PASSWORD, csm_id=book.csm["boss"]
    )
    return book


async def signed_in(context: Any, service: str, email: str) -> Any:
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    await page.goto(f"{service}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    # a CSM's and a manager's home is Today
    await expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    return page


async def status_of(cta_id: int) -> str:
    row = await Cta.select(Cta.status, Cta.owner).where(Cta.id == cta_id).first()
    return str(row["status"])


async def test_a_csm_acknowledges_with_the_keyboard(context: Any, service: str, book: Book) -> None:
    page = await signed_in(context, service, "ann.user@example.com")
    await expect(page.get_by_text("What needs me today?")).to_be_visible()
    overdue = page.locator("section[aria-labelledby=overdue] li.cta-row")
    assert await overdue.count() == 2
    first = overdue.first
    await expect(first.get_by_role("link", name="Acme")).to_have_attribute("href", "/accounts/a1")
    # Tab from the CTA's own link to its first action, then Enter
    await first.get_by_role("link", name="Risk: risk reason").focus()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused.startswith("Acknowledge")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await status_of(book.cta["a1_risk"]) == "acknowledged"
    assert await page.evaluate("window.cspViolations") == []


async def test_a_csm_opens_an_account_from_today(context: Any, service: str, book: Book) -> None:
    page = await signed_in(context, service, "ann.user@example.com")
    await page.locator("#detractors").locator("xpath=..").get_by_role("link", name="Acme").click()
    await expect(page.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    await expect(page.get_by_text("Exports keep failing")).to_be_visible()
    for section in ("NPS over time", "Health", "Calls-to-Action", "Programs", "Churn events"):
        await expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    # another CSM's account is the 403 page
    answer = await page.goto(f"{service}/accounts/b1")
    assert answer is not None and answer.status == 403
    assert await page.evaluate("window.cspViolations") == []


async def test_a_manager_reassigns_with_the_keyboard(
    context: Any, service: str, book: Book
) -> None:
    page = await signed_in(context, service, "boss.user@example.com")
    await expect(page.get_by_role("heading", name="The team")).to_be_visible()
    await expect(page.locator("#pool")).to_be_visible()
    card = page.locator("section[aria-labelledby=due-today] li.cta-row").filter(has_text="Initech")
    reassign = card.locator("summary", has_text="reassign")
    await reassign.focus()
    await page.keyboard.press("Enter")  # opens the disclosure
    select = card.get_by_label("To")
    await expect(select).to_be_visible()
    await select.focus()
    await select.select_option(label="Ann")
    await page.keyboard.press("Tab")
    assert (await page.evaluate("document.activeElement.textContent")).strip() == "Reassign"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    row = await Cta.select(Cta.owner).where(Cta.id == book.cta["b1_risk"]).first()
    assert row["owner"] == book.csm["ann"]
    assert await page.evaluate("window.cspViolations") == []


@pytest.mark.parametrize("width", [375, 1280])
async def test_today_fits_the_screen(context: Any, service: str, book: Book, width: int) -> None:
    page = await signed_in(context, service, "boss.user@example.com")
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto(f"{service}/today")
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width
    await page.goto(f"{service}/accounts/a1")
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
