"""Browser fixtures: the service as a real process, a host site on another origin, Chromium.

The service runs `python -m feedback serve` against the database under test; the host
site is a tiny HTTP server on a second loopback port, so the widget is cross-origin to
the service as it is on a customer's product. Chromium is Debian's (never downloaded).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedback.kernel.principal import Role
from feedback.surveys.models import Survey
from tests.support.factories import bearer, token, widget_setup
from tests.support.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# The host pages' snippet: the CSP-friendly variant (an external file that reads its
# settings from its own script tag). It also records CSP violations for the tests.
SNIPPET = """
(function () {
  var me = document.currentScript, data = me.dataset;
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', function (e) {
    window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };
  NPS('init', { key: data.key, base: data.base });
  NPS('identify', { id: data.user, role: 'admin', locale: 'en', team: 'blue' },
    { id: data.account, name: 'Host Co', plan: 'premium' });
  var s = document.createElement('script');
  s.async = true;
  s.src = data.base + '/widget/v1/nps.js';
  document.head.appendChild(s);
})();
"""


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped")
    return CHROMIUM


@pytest.fixture(scope="session")
def service(schema: None) -> Iterator[str]:
    """`feedback serve` in a child process on a free port; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile("w+", prefix="feedback-serve-", suffix=".log") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # this service outlives the browser tests and shares their database: its answer
            # rule runner would act on answers that later tests leave waiting on purpose, and
            # its webhook deliverer would claim the deliveries of the webhook tests
            env={
                **os.environ,
                "FEEDBACK_ANSWER_RULES": "worker",
                "FEEDBACK_WEBHOOK_DELIVERY": "worker",
            },
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/livez", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail(f"the service did not start:\n{log.read()}")
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class HostSite:
    """Pages of a customer's product, on an origin of their own."""

    origin: str
    pages: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    def page(
        self,
        path: str,
        *,
        service: str,
        key: str,
        user: str,
        account: str = "acct-1",
        head: str = "",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Adds a page embedding the widget through the external snippet; its URL."""
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Host {path}</title>{head}</head>"
            "<body><h1>Host product</h1><p>Some page content.</p><button>Host button</button>"
            f'<script src="/snippet.js" data-base="{service}" data-key="{key}" '
            f'data-user="{user}" data-account="{account}"></script></body></html>'
        )
        self.pages[path] = (html, headers or {})
        return self.origin + path


def _handler(site: HostSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            status, headers = 200, {"content-type": "text/html; charset=utf-8"}
            if path == "/favicon.ico":
                status, body = 204, b""
            elif path == "/snippet.js":
                body, headers = SNIPPET.encode(), {"content-type": "text/javascript"}
            elif path in site.pages:
                html, extra = site.pages[path]
                body, headers = html.encode(), {**headers, **extra}
            else:
                status, body = 404, b"not found"
            self.send_response(status)
            for name, value in {**headers, "cache-control": "no-store"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite(origin="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def host(host_site: HostSite) -> Iterator[HostSite]:
    yield host_site
    host_site.pages.clear()


async def apply_configuration(service: str) -> None:
    """Tests write surveys, schedules and keys straight to the database, but the service
    caches them for a few seconds; an admin change through its API makes it read them
    again, as a change in the admin UI would."""
    admin = await token(Role.admin)
    async with httpx.AsyncClient(base_url=service, timeout=10) as client:
        answer = await client.put(
            "/api/v1/settings/surveys",
            json={"min_days_between_surveys": 7},
            headers=bearer(admin),
        )
    answer.raise_for_status()


@pytest.fixture
def widget(service: str, host: HostSite) -> Callable[..., Awaitable[dict[str, Any]]]:
    """widget_setup(...) with the host site's origin allowed (and the survey's theme),
    applied to the live service."""

    async def create(theme: dict[str, str] | None = None, **schedule: Any) -> dict[str, Any]:
        setup = await widget_setup(origins=(host.origin,), **schedule)
        if theme:
            await Survey.update({Survey.theme: theme}).where(Survey.id == setup["survey"])
        await apply_configuration(service)
        return setup

    return create


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    """A fresh profile per test: empty localStorage, no cache."""
    created = await browser.new_context()
    created.set_default_timeout(10_000)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def page(context: Any) -> Any:
    return await context.new_page()


# an init script is not subject to the page's CSP: it only records what the CSP blocks
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
    (e.sourceFile ? ' (' + e.sourceFile + ':' + e.lineNumber + ')' : ''));
});
"""
