"""Rate limits on the widget endpoints: per IP and per key, in memory or shared in Redis."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
import pytest

from feedback.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from feedback.settings import load_settings
from tests.support.factories import ORIGIN, widget_setup

MID_WINDOW = 1_800_000_030.0  # 30 s into a one-minute window

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_limiter_counts_per_window_and_bucket() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)  # type: ignore[arg-type]
    verdicts = [await limiter.hit("ip:a", 3, 60) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 61
    assert (await limiter.hit("ip:b", 3, 60)).allowed
    clock.now += 60
    assert (await limiter.hit("ip:a", 3, 60)).allowed


async def test_the_redis_limiter_is_shared_between_processes() -> None:
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    bucket = f"test:{uuid.uuid4()}"
    try:
        try:
            await first.hit(bucket, 1000, 60)
        except OSError as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
        allowed = [
            (await limiter.hit(bucket, 4, 60)).allowed for limiter in (first, second, first, second)
        ]
        # the first call above counted too: limit 4 reached on the third of these
        assert allowed == [True, True, True, False]
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_released_hit_is_given_back_and_never_below_nothing(kind: str) -> None:
    """What sign-in uses to count only failures against an address (a day-long window, so
    the test never straddles two windows)."""
    day = 86_400
    limiter: RateLimiter = (
        MemoryRateLimiter(clock=lambda: MID_WINDOW)
        if kind == "memory"
        else RedisRateLimiter(REDIS_URL)
    )
    bucket = f"test:{uuid.uuid4()}"
    try:
        try:
            assert (await limiter.hit(bucket, 2, day)).allowed
        except OSError as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
        assert (await limiter.hit(bucket, 2, day)).allowed
        assert not (await limiter.hit(bucket, 2, day)).allowed
        await limiter.release(bucket, day)
        await limiter.release(bucket, day)
        assert (await limiter.hit(bucket, 2, day)).allowed
        for _ in range(5):
            await limiter.release(bucket, day)
        # given back down to nothing, not below: the limit is the limit again
        assert [(await limiter.hit(bucket, 2, day)).allowed for _ in range(3)] == [
            True,
            True,
            False,
        ]
    finally:
        await limiter.close()


async def test_the_widget_answers_429_with_retry_after_past_the_ip_limit() -> None:
    from feedback.app import create_app

    setup = await widget_setup()
    settings = load_settings({**os.environ, "FEEDBACK_WIDGET_RATE_PER_IP": "3"})
    app = create_app(settings)
    # a clock that stays inside one window: a real one may cross a minute mid-test
    app.state["rate_limiter"] = MemoryRateLimiter(clock=lambda: MID_WINDOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = json.dumps({"user_id": "u", "account_id": "a"})
        statuses = []
        for _ in range(4):
            answer = await client.post(
                f"/widget/v1/{setup['key']}/eligibility",
                content=body,
                headers={"content-type": "text/plain", **ORIGIN},
            )
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 200, 429]
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["detail"][0]["field"] == "ip"


async def test_the_key_limit_applies_across_addresses(client: Any) -> None:
    from feedback.app import create_app

    setup = await widget_setup()
    settings = load_settings({**os.environ, "FEEDBACK_WIDGET_RATE_PER_KEY": "2"})
    app = create_app(settings)
    # a clock that stays inside one window: a real one may cross a minute mid-test
    app.state["rate_limiter"] = MemoryRateLimiter(clock=lambda: MID_WINDOW)
    statuses = []
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as one:
            answer = await one.post(
                f"/widget/v1/{setup['key']}/eligibility",
                content=json.dumps({"user_id": address, "account_id": "a"}),
                headers={"content-type": "text/plain", **ORIGIN},
            )
            statuses.append(answer.status_code)
    assert statuses == [200, 200, 429]
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"


def app_with(**env: str) -> Any:
    """The application with these settings and a clock that stays inside one window."""
    from feedback.app import create_app

    settings = load_settings({**os.environ, **{f"FEEDBACK_{k}": v for k, v in env.items()}})
    app = create_app(settings)
    app.state["rate_limiter"] = MemoryRateLimiter(clock=lambda: MID_WINDOW)
    return app


async def statuses_from(
    app: Any, key: str, calls: list[tuple[str, dict[str, str], Any]]
) -> list[int]:
    """The status of each call: (direct peer address, extra headers, body)."""
    statuses = []
    for peer, headers, body in calls:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as one:
            answer = await one.post(
                f"/widget/v1/{key}/eligibility",
                content=body if isinstance(body, str) else json.dumps(body),
                headers={"content-type": "text/plain", **ORIGIN, **headers},
            )
            statuses.append(answer.status_code)
    return statuses


async def test_invalid_bodies_do_not_use_up_the_key_limit(client: Any) -> None:
    setup = await widget_setup()
    app = app_with(WIDGET_RATE_PER_KEY="2")
    junk = [(f"10.0.1.{n}", {}, "{}") for n in range(6)]
    real = [("10.0.2.1", {}, {"user_id": "u", "account_id": "a"})]
    assert await statuses_from(app, setup["key"], junk + real) == [422] * 6 + [200]


async def test_forwarded_addresses_are_ignored_without_trusted_proxies(client: Any) -> None:
    setup = await widget_setup()
    app = app_with(WIDGET_RATE_PER_IP="1")
    body = {"user_id": "u", "account_id": "a"}
    calls = [("10.0.0.9", {"x-forwarded-for": f"198.51.100.{n}"}, body) for n in range(2)]
    assert await statuses_from(app, setup["key"], calls) == [200, 429]


async def test_forwarded_addresses_are_believed_from_trusted_proxies(client: Any) -> None:
    setup = await widget_setup()
    app = app_with(WIDGET_RATE_PER_IP="1", TRUSTED_PROXIES="10.0.0.0/8")

    def via_proxy(forwarded: str, n: int) -> tuple[str, dict[str, str], Any]:
        return ("10.0.0.9", {"x-forwarded-for": forwarded}, {"user_id": f"u{n}", "account_id": "a"})

    calls = [
        via_proxy("198.51.100.1", 1),
        via_proxy("198.51.100.2", 2),
        # a client cannot pick its address by writing the header itself: the right-most
        # address the trusted proxies did not add is the client
        via_proxy("203.0.113.7, 198.51.100.1", 3),
        via_proxy("198.51.100.3, 10.1.2.3", 4),
    ]
    assert await statuses_from(app, setup["key"], calls) == [200, 200, 429, 200]


async def test_ipv6_clients_are_counted_per_64(client: Any) -> None:
    setup = await widget_setup()
    app = app_with(WIDGET_RATE_PER_IP="1")
    calls = [
        (address, {}, {"user_id": f"u{n}", "account_id": "a"})
        for n, address in enumerate(["2001:db8:0:1::1", "2001:db8:0:1:ffff::2", "2001:db8:0:2::1"])
    ]
    assert await statuses_from(app, setup["key"], calls) == [200, 429, 200]
