"""/metrics in Prometheus format behind a token, request ids, JSON logs."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from feedback.app import create_app
from feedback.ctas.rules import drain_answer_rules
from feedback.db import is_sqlite
from feedback.observability import configure_logging
from feedback.settings import Settings, get_settings
from tests.support.factories import ORIGIN, book, widget_setup

METRICS_TOKEN = "metrics-token-0123456789"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FEEDBACK_METRICS_TOKEN", METRICS_TOKEN)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_need_the_token(app_client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await app_client.get("/metrics")).status_code == 401
    wrong = await app_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"][0]["field"] == "authorization"
    plain = create_app(dataclasses.replace(settings, metrics_token=None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=plain), base_url="http://testserver.local"
    ) as client:
        off = await client.get("/metrics")  # no token configured: the endpoint is off
    assert off.status_code == 404 and off.json()["detail"][0]["field"] == "FEEDBACK_METRICS_TOKEN"


async def test_metrics_count_requests_decisions_answers_and_the_outbox(
    app_client: httpx.AsyncClient,
) -> None:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    before = (await app_client.get("/metrics", headers=auth)).text
    await book()
    setup = await widget_setup()
    headers = {"content-type": "text/plain", **ORIGIN}
    await app_client.get("/livez")
    shown = await app_client.post(
        f"/widget/v1/{setup['key']}/eligibility",
        content=json.dumps({"user_id": "u1", "account_id": "a1"}),
        headers=headers,
    )
    token = shown.json()["display_token"]
    await app_client.post(  # a new user of an account this process knows now
        f"/widget/v1/{setup['key']}/eligibility",
        content=json.dumps({"user_id": "u2", "account_id": "a1"}),
        headers=headers,
    )
    await app_client.post(
        f"/widget/v1/{setup['key']}/responses",
        content=json.dumps({"display_token": token, "client_id": "client-metrics", "score": 2}),
        headers=headers,
    )
    waiting = (await app_client.get("/metrics", headers=auth)).text
    assert sample(waiting, "feedback_answers_awaiting_rules") == 1
    await drain_answer_rules()
    after = (await app_client.get("/metrics", headers=auth)).text
    assert after.startswith("# HELP") or "# HELP" in after
    assert sample(after, "feedback_answers_awaiting_rules") == 0

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("feedback_http_requests_total", route="/livez", status="200") == 1
    assert grew("feedback_widget_decisions_total", outcome="show") == 2
    # group commit (PostgreSQL): the answer, and the new user of a known account
    batched = 0 if is_sqlite() else 1
    assert grew("feedback_answer_batch_size_count") == batched
    assert grew("feedback_new_user_batch_size_count") == batched
    assert grew("feedback_responses_received_total", source="widget") == 1
    assert grew("feedback_http_request_seconds_count", route="/widget/v1/{key}/responses") == 1
    # the detractor's CTA waits unrouted (no Slack here): the outbox gauge shows it
    assert sample(after, "feedback_outbox_messages", status="unrouted") == 1
    assert "feedback_outbox_oldest_pending_seconds" in after
    # which of several serve processes answered the scrape
    assert sample(after, "feedback_process_id") == os.getpid()


async def test_every_response_carries_a_request_id(app_client: httpx.AsyncClient) -> None:
    mine = await app_client.get("/livez", headers={"X-Request-ID": "req-12345678"})
    assert mine.headers["x-request-id"] == "req-12345678"
    fresh = await app_client.get("/livez")
    assert len(fresh.headers["x-request-id"]) == 16
    hostile = await app_client.get("/livez", headers={"X-Request-ID": "x"})
    assert hostile.headers["x-request-id"] != "x"


def test_json_logs_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    from feedback.observability import REQUEST_ID

    configure_logging("INFO", "json")
    token = REQUEST_ID.set("abc123abc123")
    try:
        logging.getLogger("feedback.test").warning("disk %s full", "nearly")
    finally:
        REQUEST_ID.reset(token)
        configure_logging("INFO", "text")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == "disk nearly full" and entry["request_id"] == "abc123abc123"
    assert entry["level"] == "WARNING" and entry["time"].endswith("Z")


async def test_the_service_warns_when_postgres_autovacuum_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plans kept per connection depend on autovacuum's ANALYZE: the operator hears of it
    when it is off (it is on in every default PostgreSQL, off on some development hosts)."""
    from feedback.db import warn_when_autovacuum_is_off
    from feedback.responses.models import Response

    off = not is_sqlite() and (await Response.raw("SHOW autovacuum"))[0]["autovacuum"] != "on"
    with caplog.at_level(logging.WARNING, logger="feedback"):
        assert await warn_when_autovacuum_is_off() is off
    assert ("autovacuum is off" in caplog.text) is off


FORGED = "/api/v1/x\n2026-12-05 10:00:00,000 CRITICAL feedback [-] forged\x1b[2J\x85"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_request_value_cannot_forge_a_log_line(
    capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A path with %0a once wrote a CRITICAL line of its own into the log."""
    from litestar import Request

    from feedback.errors import internal_error_handler

    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": FORGED,
        "raw_path": b"/api/v1/x%0a",
        "query_string": b"",
        "headers": [],
        "app": None,
    }
    configure_logging("INFO", fmt)
    try:
        try:
            raise ValueError(f"invalid input: {FORGED!s}")
        except ValueError as exc:
            internal_error_handler(Request(scope), exc)
    finally:
        configure_logging("INFO", "text")
    lines = capsys.readouterr().err.splitlines()
    logged = [line for line in lines if "unhandled error" in line]
    assert len(logged) == 1
    assert not any(
        "CRITICAL" in line and "unhandled" not in line for line in lines if fmt == "json"
    )
    if fmt == "text":
        # the record's first line and then only indented traceback lines: no forged record
        start = lines.index(logged[0])
        assert all(line.startswith("    ") for line in lines[start + 1 :]), lines
        assert "\\n2026-12-05 10:00:00,000 CRITICAL" in logged[0]
        assert "\\x1b[2J\\x85" in logged[0]
    else:
        entry = json.loads(logged[0])
        assert "\\x1b[2J\\x85" in entry["message"] and "\x85" not in entry["exception"]
    assert not any("\x1b" in line or "\x85" in line for line in lines)
