"""Staff sign in to the pages with email and password; forms carry a CSRF token; failures
are throttled per email and per address and audited; the password check runs off the event
loop; a stranger's oversized form is refused unread."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from feedback.app import create_app
from feedback.auth import passwords
from feedback.auth.models import AuditEntry, StaffUser
from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.kernel.principal import Role
from feedback.ratelimit import MemoryRateLimiter
from feedback.settings import get_settings
from tests.support.factories import book, import_csv
from tests.support.web import PASSWORD, csrf_token, sign_in

WRONG = "not the password at all"


class Clock:
    """The limiter's clock, moved by hand: no test waits for a window to pass."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttled_app(clock: Clock) -> Any:
    settings = dataclasses.replace(
        get_settings(),
        login_failures_per_account=5,
        login_failures_per_ip=8,
        login_window_minutes=15,
    )
    app = create_app(settings)
    app.state["rate_limiter"] = MemoryRateLimiter(clock=clock)
    return app


def browser(app: Any, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")


@pytest.fixture
async def counted_checks(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[int]]:
    """The thread each Argon2 check ran in, one entry per check."""
    threads: list[int] = []
    original = passwords.verify_password_now

    def spy(password_hash: str, password: str) -> bool:
        threads.append(threading.get_ident())
        return original(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password_now", spy)
    yield threads


async def test_pages_send_anonymous_visitors_to_sign_in(client: Any) -> None:
    answer = await client.get("/")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=%2F"


async def test_passwords_are_stored_with_argon2id() -> None:
    await create_staff_user("a@example.com", Role.admin, PASSWORD)
    row = await StaffUser.select(StaffUser.password_hash).first()
    assert row["password_hash"].startswith("$argon2id$")


async def test_a_staff_user_signs_in_and_sees_the_accounts(client: Any) -> None:
    await book()
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    answer = await sign_in(client, "Admin@Example.com")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Acme" in home.text and "Initech" in home.text


async def test_a_csm_sees_only_their_accounts_on_the_page(client: Any) -> None:
    await book()
    csm_id = await csm_id_for_email("bob@example.com", Role.csm)
    await create_staff_user("bob.user@example.com", Role.csm, PASSWORD, csm_id=csm_id)
    await sign_in(client, "bob.user@example.com")
    home = await client.get("/accounts/")
    assert "Initech" in home.text and "Acme" not in home.text


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: Any,
) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    wrong = await sign_in(client, "admin@example.com", "not the password")
    unknown = await sign_in(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text
    assert (await client.get("/")).status_code == 302


async def test_a_form_without_its_csrf_token_is_refused(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await client.get("/login")
    answer = await client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert answer.status_code == 403


async def test_sign_in_never_redirects_off_site(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    answer = await sign_in(client, "admin@example.com", next="//evil.example.com/")
    assert answer.headers["location"] == "/"


async def test_signing_out_ends_the_session(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    token = await csrf_token(client, "/")
    out = await client.post("/logout", data={"_csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 302


async def test_user_text_is_escaped_in_pages(client: Any) -> None:
    await import_csv("accounts", 'external_id,name\nx1,"<script>alert(1)</script>"\n')
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    home = await client.get("/")
    assert "<script>alert(1)</script>" not in home.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text


async def test_pages_carry_security_headers(client: Any) -> None:
    page = await client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_session_cookie_does_not_authenticate_api_calls(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    # the API is for bearer tokens: a browser session must not be usable cross-site there
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_the_sixth_failure_is_refused_unchecked_until_the_window_passes(
    throttled_app: Any, clock: Clock, counted_checks: list[int]
) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(throttled_app) as visitor:
        for _ in range(5):
            assert (await sign_in(visitor, "admin@example.com", WRONG)).status_code == 401
        checks = len(counted_checks)
        refused = await sign_in(visitor, "Admin@Example.com", PASSWORD)
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 15 * 60 + 1
        assert len(counted_checks) == checks  # the right password was not even looked at
        assert (await visitor.get("/")).status_code == 302
        clock.now += 15 * 60 + 1
        assert (await sign_in(visitor, "admin@example.com", PASSWORD)).status_code == 303


async def test_a_successful_sign_in_starts_the_count_again(throttled_app: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(throttled_app) as visitor:
        for _ in range(4):
            await sign_in(visitor, "admin@example.com", WRONG)
        assert (await sign_in(visitor, "admin@example.com")).status_code == 303
    async with browser(throttled_app, "203.0.113.8") as visitor:
        for _ in range(4):
            await sign_in(visitor, "admin@example.com", WRONG)
        assert (await sign_in(visitor, "admin@example.com")).status_code == 303


async def test_too_many_failures_from_one_address_are_refused_for_any_email(
    throttled_app: Any,
) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(throttled_app, "198.51.100.20") as attacker:
        for n in range(8):
            assert (await sign_in(attacker, f"guess{n % 2}@example.com", WRONG)).status_code == 401
        assert (await sign_in(attacker, "admin@example.com")).status_code == 429
    async with browser(throttled_app, "198.51.100.21") as colleague:
        assert (await sign_in(colleague, "admin@example.com")).status_code == 303


async def test_an_office_behind_one_address_is_not_throttled_by_its_own_sign_ins(
    throttled_app: Any,
) -> None:
    """Only failures count against an address: twelve colleagues signing in from one office
    address (limit 8) all get in, and failures still count from there."""
    for n in range(12):
        await create_staff_user(f"colleague{n}@example.com", Role.analyst, PASSWORD)
    for n in range(12):
        async with browser(throttled_app, "198.51.100.30") as office:
            assert (await sign_in(office, f"colleague{n}@example.com")).status_code == 303
    async with browser(throttled_app, "198.51.100.30") as office:
        for n in range(8):
            assert (await sign_in(office, f"guess{n}@example.com", WRONG)).status_code == 401
        assert (await sign_in(office, "colleague0@example.com")).status_code == 429


async def test_ipv6_clients_are_counted_per_64(throttled_app: Any) -> None:
    async with browser(throttled_app, "2001:db8:1:2::10") as one:
        for _ in range(8):
            await sign_in(one, "nobody@example.com", WRONG)
    async with browser(throttled_app, "2001:db8:1:2:ffff::99") as same_network:
        assert (await sign_in(same_network, "other@example.com", WRONG)).status_code == 429


async def test_failed_sign_ins_are_audited_without_the_password(throttled_app: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    async with browser(throttled_app) as visitor:
        await sign_in(visitor, "admin@example.com", "secret-typo-123456")
        await sign_in(visitor, "ghost@example.com", "secret-typo-123456")
    rows = (
        await AuditEntry.select()
        .where(AuditEntry.action == "staff_user.sign_in_failed")
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    assert [(r["target"], r["detail"]["reason"]) for r in rows] == [
        ("admin@example.com", "wrong password"),
        ("ghost@example.com", "unknown or inactive email"),
    ]
    assert {r["detail"]["address"] for r in rows} == {"203.0.113.7"}
    everything = json.dumps(await AuditEntry.select().output(load_json=True), default=str)
    assert "secret-typo" not in everything


async def test_the_password_check_runs_in_a_worker_thread(
    client: Any, counted_checks: list[int]
) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    await sign_in(client, "admin@example.com")
    await sign_in(client, "admin@example.com", WRONG)
    await sign_in(client, "nobody@example.com", WRONG)
    assert len(counted_checks) == 3
    assert threading.get_ident() not in counted_checks  # never on the event loop's thread


async def test_hashing_a_new_password_runs_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    original = passwords.hash_password_now

    def spy(password: str) -> str:
        threads.append(threading.get_ident())
        return original(password)

    monkeypatch.setattr(passwords, "hash_password_now", spy)
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    assert threads and threading.get_ident() not in threads


async def post_raw_form(
    app: Any, size: int, announce_length: bool, path: str = "/login"
) -> tuple[int, bytes, int]:
    """POST a form straight to the application, counting the body bytes it asks for."""
    chunk = b"a" * 65536
    sent = 0
    answer: dict[str, Any] = {"body": b""}
    headers = [
        (b"host", b"testserver.local"),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    if announce_length:
        headers.append((b"content-length", str(size).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.9", 50000),
        "server": ("testserver.local", 80),
    }

    async def receive() -> dict[str, Any]:
        nonlocal sent
        body = chunk[: max(0, min(len(chunk), size - sent))]
        sent += len(body)
        return {"type": "http.request", "body": body, "more_body": sent < size}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"], sent


@pytest.mark.parametrize("path", ["/login", "/admin/users", "/ctas/1"])
@pytest.mark.parametrize("announce_length", [True, False], ids=["content-length", "chunked"])
async def test_an_8_mb_form_from_a_stranger_is_refused_without_being_read(
    app: Any, announce_length: bool, path: str
) -> None:
    status, body, read = await post_raw_form(app, 8 * 1024 * 1024, announce_length, path)
    assert status == 413
    assert b"too large" in body
    assert read <= 16 * 1024 + 65536  # at most one chunk past the 16 KiB cap


async def test_an_ordinary_sign_in_form_is_well_under_the_cap(client: Any) -> None:
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    answer = await sign_in(client, "admin@example.com", next="/" + "x" * 4000)
    assert answer.status_code == 303


async def test_a_burst_of_password_checks_uses_a_few_threads_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight checks at once: PASSWORD_THREADS run, the others wait without a thread."""
    import asyncio

    from tests.support.waiting import eventually

    inside = 0
    lock = threading.Lock()
    release = threading.Event()

    def held(password_hash: str, password: str) -> bool:
        nonlocal inside
        with lock:
            inside += 1
        release.wait(timeout=120)
        return False

    monkeypatch.setattr(passwords, "verify_password_now", held)
    checks = [asyncio.ensure_future(passwords.verify_password("x", "y")) for _ in range(8)]
    try:
        await eventually(lambda: inside == passwords.PASSWORD_THREADS, what="threads busy")
        limiter = passwords._threads()
        await eventually(lambda: limiter.statistics().tasks_waiting == 8 - inside)
        assert inside == passwords.PASSWORD_THREADS
    finally:
        release.set()
        await asyncio.gather(*checks)
