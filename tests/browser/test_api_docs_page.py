"""/schema in Chromium with every other origin unreachable: Swagger UI draws the API from the
service's own files, under the docs page's CSP, with a clean console."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RECORD_CSP_VIOLATIONS


async def test_the_api_docs_draw_offline_under_the_csp(browser: Any, service: str) -> None:
    context = await browser.new_context()
    context.set_default_timeout(20_000)
    elsewhere: list[str] = []

    async def only_the_service(route: Any) -> None:
        if route.request.url.startswith(service + "/"):
            await route.continue_()
        else:  # as without internet: nothing else answers
            elsewhere.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_service)
    await context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        answer = await page.goto(f"{service}/schema")
        assert answer is not None and answer.status == 200
        # an operation of the widget, with its documented request body
        widget = page.locator("#operations-widget-WidgetV1KeyResponsesResponses")
        await expect(widget).to_be_visible()
        await widget.locator(".opblock-summary").click()
        await expect(widget.get_by_text("display_token").first).to_be_visible()
        assert await page.locator(".opblock").count() > 20
        assert elsewhere == []
        assert await page.evaluate("window.cspViolations") == []
        assert errors == []
    finally:
        await context.close()
