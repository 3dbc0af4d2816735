"""The widget in Chromium: a customer's page on one origin, the service on another."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from playwright.async_api import expect

from feedback.accounts.models import CSM, Account
from feedback.kernel.principal import Role
from feedback.responses.models import Response
from feedback.surveys.models import Display, LinkClick, Survey
from feedback.surveys.previews import make_preview_token
from tests.browser.conftest import HostSite, apply_configuration
from tests.support.factories import bearer, import_csv, token

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
    await expect(card).not_to_be_focused()  # announced, not focused (see the focus tests)
    group = page.get_by_role("radiogroup", name="How likely are you to recommend Acme HR")
    await expect(group).to_be_visible()
    await expect(page.get_by_text("Not at all likely")).to_be_visible()
    await expect(page.get_by_text("Extremely likely")).to_be_visible()

    # the card comes after the page's own controls in the tab order
    host_button = page.get_by_role("button", name="Host button")
    await host_button.focus()
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
    await expect(host_button).to_be_focused()  # back where the user came from
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
    await page.get_by_role("button", name="Host button").focus()
    await page.keyboard.press("Tab")  # into the card: Escape is the card's once it has focus
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
            # thumb-tall, and wider than WCAG 2.2's 24 px minimum target: eleven in one row
            assert button["height"] >= 44 and button["width"] >= 24
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


# -- manners: focus, a changed score, narrow phones ---------------------------------------

HOST_SEARCH = """() => {
    const box = document.createElement('input');
    box.type = 'search';
    box.setAttribute('aria-label', 'Search the host');
    document.body.prepend(box);
}"""


async def hold_eligibility(page: Any) -> asyncio.Event:
    """The eligibility answer waits until the returned event is set: the survey appears
    exactly when the test says, whatever the machine's speed."""
    release = asyncio.Event()

    async def held(route: Any) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/eligibility", held)
    return release


async def test_typing_into_the_host_page_while_the_card_appears_stays_in_the_host_field(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/search", service=service, key=setup["key"], user="typing-user")
    release = await hold_eligibility(page)
    await page.goto(url)
    await page.evaluate(HOST_SEARCH)
    search = page.get_by_role("searchbox", name="Search the host")
    await search.click()
    await page.keyboard.type("quarterly rep")
    release.set()
    card = page.locator(CARD)
    await expect(card).to_be_visible()
    # the moment the card is shown is when it used to take focus: the announcement is made
    live = page.locator("nps-survey [aria-live=polite]")
    await expect(live).to_contain_text("How likely are you to recommend Acme HR")
    await page.keyboard.type("ort")
    await expect(search).to_have_value("quarterly report")
    await expect(search).to_be_focused()
    assert await page.evaluate("document.activeElement.tagName") == "INPUT"


async def test_the_card_does_not_take_focus_when_it_appears(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="calm-user")
    card = await open_survey(page, url)
    live = page.locator("nps-survey [aria-live=polite]")
    await expect(live).to_contain_text("How likely are you to recommend Acme HR")
    assert await page.evaluate("document.activeElement === document.body")
    await expect(card).not_to_be_focused()
    # clicking a score is using the card: the comment box may take focus then
    await radio(page, 6).click()
    await expect(page.get_by_role("textbox")).to_be_focused()


@pytest.mark.parametrize("width", [320, 375])
async def test_on_a_narrow_phone_the_scale_is_one_row_with_its_end_labels_under_0_and_10(
    browser: Any, service: str, host: HostSite, widget: Widget, width: int
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user=f"narrow-{width}")
    context = await browser.new_context(
        viewport={"width": width, "height": 740}, is_mobile=True, reduced_motion="reduce"
    )
    try:
        page = await context.new_page()
        card = await open_survey(page, url)
        boxes = [await radio(page, score).bounding_box() for score in range(11)]
        tops = {round(b["y"]) for b in boxes}
        assert len(tops) == 1, f"the scale wraps at {width} px: rows at {sorted(tops)}"
        lefts = [b["x"] for b in boxes]
        assert lefts == sorted(lefts)
        first, last = boxes[0], boxes[10]
        low = await page.get_by_text("Not at all likely").bounding_box()
        high = await page.get_by_text("Extremely likely").bounding_box()
        for label in (low, high):
            assert label["y"] >= first["y"] + first["height"]  # under the row
        assert abs(low["x"] - first["x"]) <= 1  # starts under 0
        assert abs((high["x"] + high["width"]) - (last["x"] + last["width"])) <= 1  # ends under 10
        frame = await card.bounding_box()
        assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        await context.close()


async def test_changing_the_score_in_the_follow_up_sends_the_same_client_and_the_last_stands(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="mistap-user")
    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/responses") else None,
    )
    await open_survey(page, url)
    await radio(page, 3).click()
    await expect(page.get_by_text("Sorry to hear that. What disappointed you?")).to_be_visible()
    comment = page.get_by_role("textbox")
    await comment.fill("Oops, I meant")
    await expect(radio(page, 3)).to_have_attribute("aria-checked", "true")

    await radio(page, 9).click()  # the mis-tap corrected while the follow-up is open
    await expect(page.get_by_text("Great to hear! What do you like most?")).to_be_visible()
    await expect(radio(page, 9)).to_have_attribute("aria-checked", "true")
    await expect(radio(page, 3)).to_have_attribute("aria-checked", "false")
    await expect(comment).to_have_value("Oops, I meant")  # nothing typed is lost
    await comment.fill("Oops, I meant nine")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_text("Thank you! Would you share that in a review?")).to_be_visible()

    async def settled() -> list[dict[str, Any]]:
        return [r for r in await responses() if r["score"] == 9 and r["comment"]]

    assert await eventually(settled) == [
        {"score": 9, "comment": "Oops, I meant nine", "source": "widget", "account": "acct-1"}
    ]
    await page.wait_for_function("!JSON.parse(localStorage['nps:q']).length")
    assert [body["score"] for body in sent] == [3, 9]
    assert sent[0]["client_id"] == sent[1]["client_id"]
    assert await Response.count() == 1


IDENTITY_SNIPPET = """
window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };
var data = document.currentScript.dataset;
NPS('init', { key: data.key, base: data.base });
NPS('identify', { id: data.user }, { id: data.account, name: 'Host Co' },
    { identity_token: 'header.claims.signature' });
var s = document.createElement('script');
s.src = data.base + '/widget/v1/nps.js';
document.head.appendChild(s);
"""


async def eligibility_bodies(page: Any, url: str) -> list[dict[str, Any]]:
    """The eligibility bodies the page sends while it loads."""
    bodies: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data)) if r.url.endswith("/eligibility") else None
        ),
    )
    async with page.expect_response(lambda r: r.url.endswith("/eligibility")):
        await page.goto(url)
    return bodies


async def test_the_identity_token_the_host_gives_is_sent_with_the_check(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/signed", service=service, key=setup["key"], user="signed-user")
    await page.route("**/snippet.js", lambda route: route.fulfill(body=IDENTITY_SNIPPET))
    (body,) = await eligibility_bodies(page, url)
    assert body["identity_token"] == "header.claims.signature"
    assert (body["user_id"], body["account_id"]) == ("signed-user", "acct-1")
    assert body["force"] is False and "preview_token" not in body


async def test_a_refused_identity_shows_nothing_and_breaks_nothing(
    page: Any, service: str, host: HostSite
) -> None:
    url = host.page("/refused", service=service, key="wk_refusing", user="refused-user")
    refusal = {
        "error": "identity_token: expired",
        "detail": [{"field": "identity_token", "message": "expired"}],
    }
    await page.route(
        "**/eligibility",
        lambda route: route.fulfill(
            status=401,
            json=refusal,
            headers={"access-control-allow-origin": host.origin},
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    async with page.expect_response(lambda r: r.url.endswith("/eligibility")):
        await page.goto(url)
    await page.wait_for_function("window.NPS && window.NPS.v === 1")
    await expect(page.locator(CARD)).to_have_count(0)
    assert [e for e in errors if "401" not in e] == []  # Chromium's own "failed: 401" line


async def test_a_preview_link_sends_its_token_and_forces_the_check_once(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/previewed", service=service, key=setup["key"], user="preview-user")
    (body,) = await eligibility_bodies(page, f"{url}?tab=2&nps_preview=signed-by-the-service")
    assert body["force"] is True
    assert body["preview_token"] == "signed-by-the-service"
    assert "identity_token" not in body  # the host gave none


async def test_show_alone_still_asks_with_force_and_no_preview_token(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="show-user")
    await open_survey(page, url)
    await page.get_by_role("button", name="Close").click()
    async with page.expect_request(lambda r: r.url.endswith("/eligibility")) as asked:
        await page.evaluate("NPS('show')")
    body = json.loads((await asked.value).post_data)
    assert body["force"] is True and "preview_token" not in body


# -- the same, end to end with the service's own checks ----------------------------------


async def signed_key(service: str, origin: str) -> dict[str, Any]:
    """A production key made as an admin makes one: it requires a signed identity."""
    async with httpx.AsyncClient(base_url=service, timeout=10) as client:
        answer = await client.post(
            "/api/v1/widget-keys",
            headers=bearer(await token(Role.admin)),
            json={"name": "web", "environment": "production", "allowed_origins": [origin]},
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def serving(body: str) -> Callable[[Any], Awaitable[None]]:
    """A route handler answering with this body."""
    return lambda route: route.fulfill(body=body)  # type: ignore[no-any-return]


def snippet_with(options: dict[str, str]) -> str:
    """The host's snippet, identifying with these options (an identity token, say)."""
    return IDENTITY_SNIPPET.replace(
        "{ identity_token: 'header.claims.signature' }", json.dumps(options)
    )


async def test_a_signed_identity_made_by_the_host_server_is_taken_and_a_missing_one_is_not(
    browser: Any, service: str, host: HostSite, widget: Widget
) -> None:
    await widget()  # the survey and its schedule
    key = await signed_key(service, host.origin)
    assert key["identity"] == "signed"
    url = host.page("/signed", service=service, key=key["key"], user="jwt-user", account="acct-9")
    now = int(time.time())
    identity = jwt.encode(
        {"sub": "jwt-user", "account": "acct-9", "traits": {"plan": "premium"}, "exp": now + 600},
        key["identity_secret"],
        algorithm="HS256",
    )
    for options, shown in (({}, False), ({"identity_token": identity}, True)):
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.route("**/snippet.js", serving(snippet_with(options)))
            async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as asked:
                await page.goto(url)
            checked = await asked.value
            if not shown:
                assert checked.status == 401
                assert (await checked.json())["detail"][0]["field"] == "identity_token"
                await expect(page.locator(CARD)).to_have_count(0)
                continue
            await expect(page.locator(CARD)).to_be_visible()
            await answer(page, 8, "Signed and sealed")
            await page.wait_for_function("!JSON.parse(localStorage['nps:q']).length")
        finally:
            await context.close()
    assert await responses() == [
        {"score": 8, "comment": "Signed and sealed", "source": "widget", "account": "acct-9"}
    ]


async def test_a_preview_link_shows_the_survey_again_after_an_answer(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    setup = await widget()
    url = host.page("/", service=service, key=setup["key"], user="previewing-admin")
    await open_survey(page, url)
    await answer(page, 10, "First")
    await eventually(responses)
    preview, _ = make_preview_token(setup["key"])
    async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as asked:
        await page.goto(f"{url}?nps_preview={preview}")
    assert (await (await asked.value).json())["show"] is True
    await expect(page.locator(CARD)).to_be_visible()
    # a made-up token is ignored: the cadence rules stand
    async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as asked:
        await page.goto(f"{url}?nps_preview=made-up")
    assert (await (await asked.value).json())["show"] is False
    await expect(page.locator(CARD)).to_have_count(0)


async def test_the_demo_host_page_asks_again_as_a_preview(page: Any, service: str) -> None:
    """ "Show the survey now" reloads the page with the service's preview token: a forced
    survey for a visitor whose identity is not signed is honoured only that way."""
    from feedback.demo import load_demo_survey

    await load_demo_survey()
    await apply_configuration(service)
    await page.goto(f"{service}/demo/host")
    card = page.locator(CARD)
    await expect(card).to_be_visible(timeout=5000)
    await radio(page, 9).click()
    await page.get_by_role("button", name="Close").click()
    await expect(card).to_be_hidden()

    async with page.expect_response(lambda r: r.url.endswith("/eligibility")) as check:
        await page.locator("#ask-again").click()
    assert "nps_preview=" in page.url
    assert (await (await check.value).json())["show"] is True
    await expect(card).to_be_visible(timeout=5000)


async def test_a_detractor_is_offered_a_talk_to_link_whose_click_is_counted_once(
    page: Any, service: str, host: HostSite, widget: Widget
) -> None:
    await import_csv("csms", "email,name\nann@example.com,Ann Lee\n")
    await import_csv("accounts", "external_id,name,csm_email\nacct-talk,Host Co,ann@example.com\n")
    meeting = "https://cal.example.com/ann-lee"
    await CSM.update({CSM.meeting_url: meeting}).where(CSM.email == "ann@example.com")
    setup = await widget()
    await Survey.update({Survey.talk_to_detractors: True}).where(Survey.id == setup["survey"])
    await apply_configuration(service)
    # the meeting page is another site: answered here, so the test needs no network
    await page.context.route(f"{meeting}**", lambda route: route.fulfill(body="booked"))
    url = host.page("/", service=service, key=setup["key"], user="talk-user", account="acct-talk")
    await open_survey(page, url)
    await answer(page, 3, "Too slow")
    link = page.get_by_role("link", name="Talk to Ann Lee")
    await expect(link).to_have_attribute("href", meeting)
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener")
    async with page.context.expect_page() as opened:
        await link.click()
    await (await opened.value).close()
    await link.click(modifiers=["Control"])  # a second click counts nothing more

    async def counted() -> list[dict[str, Any]]:
        return await LinkClick.select(LinkClick.link, LinkClick.category)

    assert await eventually(counted) == [{"link": "talk_to", "category": "detractor"}]
