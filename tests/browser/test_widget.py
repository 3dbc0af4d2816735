"""The widget in Chromium: a customer's page on one origin, the service on another."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from playwright.async_api import expect

from feedback.accounts.models import Account
from feedback.responses.models import Response
from feedback.surveys.models import Display
from tests.browser.conftest import HostSite, apply_configuration

T = TypeVar("T")
Widget = Callable[..., Awaitable[dict[str, Any]]]
CARD = "nps-survey [role=dialog]"
HOSTILE_CSS = (
    "<style>* { all: unset !important; font-size: 40px !important }"
    " html { font-size: 300% } button { display: none !important }</style>"
)

# an admin page: the snippet without init or identify
PREVIEW_SNIPPET = """
window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };
var s = document.createElement('script');
s.src = document.currentScript.dataset.base + '/widget/v1/nps.js';
document.head.appendChild(s);
"""


async def eventually(probe: Callable[[], Awaitable[T]], seconds: float = 10) -> T:
    """Polls until the probe answers something truthy (the service writes asynchronously)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {seconds}s")
        await asyncio.sleep(0.1)


def radio(page: Any, score: int) -> Any:
    return page.get_by_role("radio", name=f"{score} out of 10", exact=True)


async def responses() -> list[dict[str, Any]]:
    return await Response.select(
        Response.score,
        Response.comment,
        Response.source,
        Response.account.external_id.as_alias("account"),
    )


def count_checks(page: Any) -> list[str]:
    """The eligibility requests the page makes, as they happen."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.url.endswith("/eligibility") else None)
    return seen


async def open_survey(page: Any, url: str) -> Any:
    await page.goto(url)
    card = page.locator(CARD)
    await expect(card).to_be_visible()
    return card


async def answer(page: Any, score: int, comment: str) -> None:
    await radio(page, score).click()
    await page.get_by_role("textbox").fill(comment)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_text("Thank you", exact=False)).to_be_visible()


async def test_a_user_answers_by_keyboard_alone_and_the_response_is_stored(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="kb-user", account="acct-kb")
    card = await open_survey(page, url)
    await expect(card).to_be_focused()  # focus moves into the dialog, not onto a score
    group = page.get_by_role("radiogroup", name="How likely are you to recommend Acme HR")
    await expect(group).to_be_visible()
    await expect(page.get_by_text("Not at all likely")).to_be_visible()
    await expect(page.get_by_text("Extremely likely")).to_be_visible()

    await page.keyboard.press("Tab")
    await expect(radio(page, 0)).to_be_focused()
    for _ in range(9):
        await page.keyboard.press("ArrowRight")
    nine = radio(page, 9)
    await expect(nine).to_be_focused()
    await expect(nine).to_have_attribute("aria-checked", "false")  # arrows only move
    await page.keyboard.press("Space")

    comment = page.get_by_role("textbox", name="Great to hear! What do you like most?")
    await expect(comment).to_be_focused()
    await page.keyboard.type("Fast and friendly")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(page.get_by_text("Thank you! Would you share that in a review?")).to_be_visible()
    review = page.get_by_role("link", name="Write a review")
    await expect(review).to_have_attribute("href", "https://g2.example/r")
    await expect(review).to_have_attribute("target", "_blank")
    await expect(review).to_have_attribute("rel", "noopener")

    async def commented() -> list[dict[str, Any]]:
        return [r for r in await responses() if r["comment"]]

    stored = await eventually(commented)
    assert stored == [
        {"score": 9, "comment": "Fast and friendly", "source": "widget", "account": "acct-kb"}
    ]
    account = await Account.select(Account.name).where(Account.external_id == "acct-kb").first()
    assert account["name"] == "Host Co"

    await page.keyboard.press("Escape")  # closes the thank-you card, records no dismissal
    await expect(card).to_have_count(0)
    assert [d["status"] for d in await Display.select(Display.status)] == ["answered"]


async def test_a_reload_after_answering_shows_nothing_and_asks_nothing(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="reload-user")
    checks = count_checks(page)
    await open_survey(page, url)
    await answer(page, 7, "Fine")
    await eventually(responses)
    assert len(checks) == 1

    await page.reload()
    await page.wait_for_function("window.NPS && window.NPS.v === 1")
    await page.wait_for_timeout(500)
    assert len(checks) == 1
    await expect(page.locator(CARD)).to_have_count(0)


async def test_dismissing_records_it_and_a_later_check_backs_off(
    page: Any, context: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="dismiss-user")
    card = await open_survey(page, url)
    await page.keyboard.press("Escape")
    await expect(card).to_have_count(0)

    async def dismissed() -> bool:
        rows = await Display.select(Display.status, Display.dismissed_at)
        return rows[0]["status"] == "dismissed" and rows[0]["dismissed_at"] is not None

    await eventually(dismissed)

    # the same browser does not ask again; a browser without the stored time asks, and the
    # service backs off
    checks = count_checks(page)
    await page.reload()
    await page.wait_for_function("window.NPS && window.NPS.v === 1")
    await page.wait_for_timeout(300)
    assert checks == []
    other = await context.browser.new_context()
    try:
        fresh = await other.new_page()
        async with fresh.expect_response(lambda r: r.url.endswith("/eligibility")) as answered:
            await fresh.goto(url)
        assert (await (await answered.value).json())["show"] is False
        await fresh.wait_for_timeout(300)
        await expect(fresh.locator(CARD)).to_have_count(0)
    finally:
        await other.close()
    assert await Display.count() == 1


async def test_the_close_button_dismisses(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="close-user")
    card = await open_survey(page, url)
    await page.get_by_role("button", name="Close").click()
    await expect(card).to_have_count(0)

    async def dismissed() -> bool:
        return (await Display.select(Display.status).first())["status"] == "dismissed"

    await eventually(dismissed)


async def test_an_answer_given_offline_arrives_exactly_once(
    page: Any, context: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="offline-user")
    await open_survey(page, url)
    delivered_statuses: list[int] = []
    page.on(
        "response",
        lambda r: delivered_statuses.append(r.status) if r.url.endswith("/responses") else None,
    )
    await context.set_offline(True)
    await answer(page, 3, "Written on a train")
    await page.wait_for_timeout(1500)  # a retry or two fail meanwhile
    assert await Response.count() == 0
    queued = await page.evaluate("JSON.parse(localStorage['nps:q'])")
    assert [item["u"].rsplit("/", 1)[1] for item in queued] == ["responses", "comments"]

    await context.set_offline(False)

    async def delivered() -> list[dict[str, Any]]:
        return [r for r in await responses() if r["comment"]]

    assert await eventually(delivered) == [
        {"score": 3, "comment": "Written on a train", "source": "widget", "account": "acct-1"}
    ]
    await page.wait_for_function("!JSON.parse(localStorage['nps:q']).length")
    await page.reload()  # nothing is left to send again
    await page.wait_for_timeout(500)
    assert delivered_statuses == [201]  # the score went once it could, and only once
    assert await Response.count() == 1


async def test_a_host_page_with_a_strict_csp_works_without_violations(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget(theme={"accent": "#0a7d5a", "position": "bottom-left"})
    csp = (
        f"default-src 'self'; script-src 'self' {service}; style-src 'self' {service}; "
        f"connect-src {service}"
    )
    url = host.page(
        "/strict",
        service=service,
        key=setup["key"],
        user="csp-user",
        headers={"content-security-policy": csp},
    )
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    await open_survey(page, url)
    await answer(page, 10, "Works under CSP")
    await eventually(responses)
    assert await page.evaluate("window.cspViolations") == []
    assert not [line for line in console if "Content Security Policy" in line], console
    # the stylesheet and the theme applied, with no style attribute or element
    card = page.locator(CARD)
    assert await card.evaluate("e => getComputedStyle(e).borderTopLeftRadius") == "12px"
    assert (await card.bounding_box())["x"] == 16  # bottom-left
    link = page.get_by_role("link", name="Write a review")
    assert await link.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(10, 125, 90)"
    inline = "document.querySelector('nps-survey').shadowRoot.querySelectorAll('style, [style]')"
    assert await page.evaluate(f"{inline}.length") == 0


async def test_hostile_host_css_does_not_change_the_widget(
    browser: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    plain = host.page("/plain", service=service, key=setup["key"], user="css-plain")
    hostile = host.page(
        "/hostile", service=service, key=setup["key"], user="css-hostile", head=HOSTILE_CSS
    )
    measured = []
    for url in (plain, hostile):
        # reduced motion: no entrance animation to wait for (and its media query is used)
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, reduced_motion="reduce"
        )
        try:
            page = await context.new_page()
            card = await open_survey(page, url)
            assert await card.evaluate("e => getComputedStyle(e).animationName") == "none"
            five = radio(page, 5)
            await expect(five).to_be_visible()
            measured.append(
                (
                    await card.bounding_box(),
                    await five.bounding_box(),
                    await five.evaluate("e => getComputedStyle(e).fontSize"),
                    await card.evaluate("e => getComputedStyle(e).fontFamily"),
                )
            )
        finally:
            await context.close()
    assert measured[0] == measured[1]
    assert measured[0][2] == "14px"


async def test_the_card_fits_a_360_pixel_phone(
    browser: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="phone-user")
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, reduced_motion="reduce"
    )
    try:
        page = await context.new_page()
        card = await open_survey(page, url)
        box = await card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        for score in (0, 10):
            button = await radio(page, score).bounding_box()
            assert box["x"] <= button["x"]
            assert button["x"] + button["width"] <= box["x"] + box["width"]
            assert button["height"] >= 40 and button["width"] >= 40  # thumb-sized
    finally:
        await context.close()


async def test_single_page_navigation_checks_again_and_shows_the_survey(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget(targeting={"url_include": ["/app/*"]})
    url = host.page("/home", service=service, key=setup["key"], user="spa-user")
    checks = count_checks(page)
    async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as first:
        await page.goto(url)
    assert (await (await first.value).json())["show"] is False

    async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as second:
        await page.evaluate("history.pushState({}, '', '/app/reports')")
    assert (await (await second.value).json())["show"] is True
    await expect(page.locator(CARD)).to_be_visible()
    assert len(checks) == 2

    # back on /home, whose "no" is still stored: no request
    await page.get_by_role("button", name="Close").click()
    await page.evaluate("history.pushState({}, '', '/home')")
    await page.wait_for_timeout(300)
    assert len(checks) == 2


async def test_the_demo_host_page_shows_the_demo_survey(page: Any, service: str) -> None:
    from feedback.demo import load_demo_survey

    await load_demo_survey()
    await apply_configuration(service)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{service}/demo/host")
    card = page.locator(CARD)
    await expect(card).to_be_visible(timeout=5000)  # after the schedule's 1 s delay
    await expect(radio(page, 10)).to_be_visible()
    await expect(card).to_contain_text("Acme HR")
    visitor = await page.evaluate("localStorage['demo-visitor']")
    assert visitor.startswith("demo-visitor-")
    await expect(page.locator("#visitor")).to_have_text(visitor)
    assert errors == []


async def test_a_preview_renders_into_its_container_without_calling_the_api(
    page: Any, service: str, host: HostSite
) -> None:
    url = host.page("/admin", service=service, key="wk_none", user="admin-user")
    api_calls = []
    page.on("request", lambda r: api_calls.append(r.url) if "/widget/v1/wk_" in r.url else None)
    await page.route("**/snippet.js", lambda route: route.fulfill(body=PREVIEW_SNIPPET))
    await page.goto(url)
    await page.wait_for_function("window.NPS && window.NPS.v === 1")
    await page.evaluate(
        """() => {
            const box = document.createElement('section');
            box.id = 'preview';
            document.body.append(box);
            NPS('preview', {container: '#preview', locale: 'en', theme: {},
                            texts: {question: 'Would you recommend Acme?', low_label: 'No',
                                    high_label: 'Yes', score_label: '{score} of 10',
                                    follow_up: {promoter: 'What do you like?'},
                                    thanks: {promoter: 'Thanks!'}, submit: 'Send'}});
        }"""
    )
    card = page.locator("#preview nps-survey [role=dialog]")
    await expect(card).to_contain_text("Would you recommend Acme?")
    await page.get_by_role("radio", name="10 of 10", exact=True).click()
    await expect(card).to_contain_text("What do you like?")
    await page.get_by_role("button", name="Send").click()
    await expect(card).to_contain_text("Thanks!")
    assert api_calls == []


async def test_reset_at_logout_removes_the_survey_without_a_dismissal(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="logout-user")
    card = await open_survey(page, url)
    checks = count_checks(page)
    await page.evaluate("NPS('reset')")
    await expect(card).to_have_count(0)
    await page.evaluate("history.pushState({}, '', '/elsewhere')")  # nobody to ask about
    await page.wait_for_timeout(300)
    assert checks == []
    assert [d["status"] for d in await Display.select(Display.status)] == ["shown"]
