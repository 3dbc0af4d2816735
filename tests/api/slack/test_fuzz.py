"""Fuzzing (hypothesis): the CSV importers and the Slack request handling never crash on
arbitrary input, and a rejected import writes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.slack_standin import SlackStandIn
from feedback.accounts.models import Account, EndUser
from feedback.app import create_app
from feedback.imports.parsing import FileError, read_csv
from feedback.imports.services import Importer
from feedback.responses.models import Response
from feedback.settings import get_settings
from tests.support.slack import signed, slack_env

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADERS = {
    "accounts": ["external_id", "name", "plan", "arr", "csm_email", "renewal_date", "region"],
    "users": ["external_id", "account_id", "role", "email", "locale"],
    "responses": ["response_id", "account_id", "user_id", "score", "comment", "answered_at"],
}
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "11", "1e309", "NaN", "2026-02-30", "=cmd()", "a1", "u1"]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"'

    lines = [",".join(header)] + [",".join(quote(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


async def counts() -> tuple[int, int, int]:
    return await Account.count(), await EndUser.count(), await Response.count()


@FUZZ
@given(
    kind=st.sampled_from(sorted(HEADERS)),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=8), max_size=6),
)
async def test_importers_never_crash_and_never_half_write(kind: str, rows: list[list[str]]) -> None:
    before = await counts()
    header = HEADERS[kind]
    try:
        parsed_header, parsed = read_csv(csv_text(header, rows))
        result = await Importer().run(kind, parsed_header, parsed)
    except FileError:
        assert await counts() == before  # refused as a whole, with line and reason
        return
    if not result.ok:
        assert not result.written and await counts() == before
        assert all(e.line >= 1 for e in result.errors)


@FUZZ
@given(raw=st.binary(max_size=300))
async def test_the_csv_reader_survives_any_bytes(raw: bytes) -> None:
    text = raw.decode("utf-8", errors="replace")
    try:
        _, rows = read_csv(text)
        for _ in rows:
            pass
    except FileError as exc:
        assert exc.args  # a clear refusal is fine; anything else is a crash


@pytest.fixture
async def slack_app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    standin = await SlackStandIn(rate_interval=0.0, rate_tolerance=0.0).start()
    for name, value in slack_env(standin.api_url).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=create_app(get_settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c
    get_settings.cache_clear()
    await standin.stop()


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
PAYLOADS = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "x"]),
            "user": st.one_of(st.just({"id": "UANN"}), JSONISH),
            "actions": st.lists(
                st.fixed_dictionaries(
                    {
                        "action_id": st.sampled_from(
                            ["cta_ack", "cta_snooze", "cta_close", "cta_reassign", "cta_open"]
                        ),
                        "value": st.one_of(st.text(max_size=12), st.just("1:1")),
                        "block_id": st.text(max_size=10),
                    }
                ),
                max_size=2,
            ),
            "view": JSONISH,
        }
    ),
)


@FUZZ
@given(payload=PAYLOADS, as_form=st.booleans())
async def test_signed_slack_requests_never_crash_the_service(
    slack_app: httpx.AsyncClient, payload: object, as_form: bool
) -> None:
    body = urlencode({"payload": json.dumps(payload)}) if as_form else json.dumps(payload)
    headers = signed(body)
    if not as_form:
        headers["content-type"] = "application/json"
    answer = await slack_app.post("/slack/events", content=body, headers=headers)
    # bolt answers 200 (handled or acked), 404 (no listener) or 400: never a server error
    assert answer.status_code < 500, (payload, answer.status_code, answer.text[:300])


HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
) | st.sampled_from(["", "0", "-1", "1e9", "9" * 30, "v0=", "v0=" + "0" * 64, "NaN", " 1 "])
SLACK_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "x-slack-request-timestamp",
            "x-slack-signature",
            "x-slack-retry-num",
            "x-slack-retry-reason",
            "content-type",
            "x-forwarded-for",
        ]
    ),
    HEADER_TEXT,
    max_size=6,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSONISH.map(json.dumps),
    PAYLOADS.map(lambda p: urlencode({"payload": json.dumps(p)})),
    st.sampled_from(
        [
            "ssl_check=1&token=t",
            "command=/nps&text=help&user_id=UANN",
            "command=/nps&text=acct",
            '{"type":"event_callback","event":{"type":"app_home_opened"}}',
            '{"type":"url_verification"}',
            "[" * 5000 + "]" * 5000,
        ]
    ),
)


@FUZZ
@given(headers=SLACK_HEADERS, body=BODIES)
async def test_any_headers_and_body_unsigned_never_crash_the_service(
    slack_app: httpx.AsyncClient, headers: dict[str, str], body: str | bytes
) -> None:
    answer = await slack_app.post("/slack/events", content=body, headers=headers)
    assert answer.status_code < 500, (headers, body, answer.status_code, answer.text[:300])
    if answer.status_code == 200:
        # only a certificate check is answered without a signature
        text = body if isinstance(body, str) else body.decode("utf-8", errors="replace")
        assert "ssl_check=1" in text, (headers, body, answer.text[:300])


@FUZZ
@given(
    extra=SLACK_HEADERS.map(
        lambda h: {
            k: v
            for k, v in h.items()
            if k not in ("x-slack-request-timestamp", "x-slack-signature")
        }
    ),
    body=BODIES,
)
async def test_any_signed_body_with_any_other_headers_never_crashes_the_service(
    slack_app: httpx.AsyncClient, extra: dict[str, str], body: str | bytes
) -> None:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    headers = {**signed(text), **extra}
    answer = await slack_app.post("/slack/events", content=text.encode(), headers=headers)
    assert answer.status_code < 500, (headers, text, answer.status_code, answer.text[:300])
