"""One rule for every input a request carries (feedback/web/inputs.py): control characters
in text, ids beyond the database's integers, numbers and dates out of range are a 4xx naming
the field, on either engine, before any view or statement sees them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup

HUGE = "99999999999999999999"
WIDGET = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


@pytest.fixture
async def admin() -> dict[str, str]:
    await book()
    return bearer(await token(Role.admin))


def named(answer: Any) -> list[str]:
    return [item["field"] for item in answer.json()["detail"]]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/accounts?plan=%00", "plan"),
        ("/api/v1/ctas?account=a%00", "account"),
        ("/api/v1/health?csm=%00", "csm"),
        ("/api/v1/metrics?metric=%00", "metric"),
        ("/api/v1/reports/nps?industry=Soft%1Bware", "industry"),
        ("/api/v1/accounts?plan=%C2%85", "plan"),
    ],
)
async def test_a_control_character_in_a_query_or_path_is_422_naming_it(
    client: Any, admin: dict[str, str], path: str, field: str
) -> None:
    answer = await client.get(path, headers=admin)
    assert answer.status_code == 422, answer.text
    assert named(answer) == [field]
    assert "control character" in answer.json()["detail"][0]["message"]


async def test_the_widget_refuses_a_control_character_naming_the_field(client: Any) -> None:
    await book()
    setup = await widget_setup()
    url = f"/widget/v1/{setup['key']}/eligibility"
    cases = [
        ({"user_id": "a\u0000b", "account_id": "a1"}, "user_id"),
        ({"user_id": "u1", "account_id": "a1", "traits": {"role": "ad\u0007min"}}, "traits.role"),
        ({"user_id": "u1", "account_id": "a1", "traits": {"ro\u0000le": "admin"}}, "traits"),
    ]
    for body, field in cases:
        answer = await client.post(url, content=json.dumps(body), headers=WIDGET)
        assert answer.status_code == 422, answer.text
        assert named(answer) == [field]
    fine = {"user_id": "u1", "account_id": "a1", "traits": {"role": "admin"}}
    assert (await client.post(url, content=json.dumps(fine), headers=WIDGET)).status_code == 200


async def test_comments_keep_their_line_breaks_and_tabs(client: Any) -> None:
    await book()
    setup = await widget_setup()
    key = setup["key"]
    shown = await client.post(
        f"/widget/v1/{key}/eligibility",
        content=json.dumps({"user_id": "u1", "account_id": "a1"}),
        headers=WIDGET,
    )
    display = shown.json()["display_token"]
    scored = await client.post(
        f"/widget/v1/{key}/responses",
        content=json.dumps({"display_token": display, "client_id": "client-0001", "score": 9}),
        headers=WIDGET,
    )
    assert scored.status_code == 201, scored.text
    comment = {"display_token": display, "comment": "Great.\r\n\tEspecially the\nreports."}
    answer = await client.post(
        f"/widget/v1/{key}/comments", content=json.dumps(comment), headers=WIDGET
    )
    assert answer.status_code == 200, answer.text
    nul = {"display_token": display, "comment": "Great\u0000"}
    refused = await client.post(
        f"/widget/v1/{key}/comments", content=json.dumps(nul), headers=WIDGET
    )
    assert refused.status_code == 422 and named(refused) == ["comment"]


async def test_a_json_body_to_the_api_names_the_field_path(
    client: Any, admin: dict[str, str]
) -> None:
    body = {
        "metrics": [
            {"account_id": "a1", "metric": "logins", "day": "2026-11-01", "value": 1},
            {"account_id": "a1", "metric": "log\u0000ins", "day": "2026-11-01", "value": 1},
        ]
    }
    answer = await client.post("/api/v1/metrics", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert named(answer) == ["metrics[1].metric"]


@pytest.mark.parametrize("path", ["/api/v1/accounts/a%00b", "/api/v1/users/u%0A1"])
async def test_a_path_segment_with_a_control_character_names_nothing(
    client: Any, admin: dict[str, str], path: str
) -> None:
    answer = await client.get(path, headers=admin)
    assert answer.status_code == 404, answer.text
    assert named(answer) == ["external_id"]
    assert "control character" in answer.json()["detail"][0]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/ctas/{HUGE}"),
        ("POST", "/api/v1/ctas/28671628579905/actions"),
        ("DELETE", f"/api/v1/widget-keys/{HUGE}"),
        ("PUT", f"/api/v1/surveys/{HUGE}"),
        ("POST", f"/api/v1/outbox/{HUGE}/retry"),
        ("DELETE", "/api/v1/tokens/2147483648"),
    ],
)
async def test_an_id_beyond_the_databases_integers_is_404(
    client: Any, admin: dict[str, str], method: str, path: str
) -> None:
    body = {"action": "acknowledge"} if path.endswith("actions") else None
    if method == "PUT":
        body = {"name": "NPS", "product_name": "Acme"}
    answer = await client.request(method, path, headers=admin, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"][0]["field"].endswith("_id")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/metrics?offset={HUGE}", "offset"),
        (f"/api/v1/accounts?offset={HUGE}", "offset"),
        (f"/api/v1/ctas?owner={HUGE}", "owner"),
        ("/api/v1/ctas?owner=3000000000", "owner"),
        ("/api/v1/health?day=0001-01-01", "day"),
        ("/api/v1/reports/retention?from=0001-01-01&to=9999-12-31", "from"),
        ("/api/v1/reports/nps?to=9999-12-31T00:00:00Z", "to"),
        ("/api/v1/reports/nps?confidence=nan", "confidence"),
        ("/api/v1/health/trend?from=1066-10-14", "from"),
    ],
)
async def test_a_number_or_date_out_of_range_is_422_naming_it(
    client: Any, admin: dict[str, str], path: str, field: str
) -> None:
    answer = await client.get(path, headers=admin)
    assert answer.status_code == 422, answer.text
    assert field in named(answer)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[" * 100_000 + "]" * 100_000, "body"),
        ('[{"external_id": "a9", "name": ' + "1" * 5000 + "}]", "[0].name"),
        ('[{"external_id": "a9", "name": "Acme", "arr": 1e999}]', "[0].arr"),
        ("[" * 65 + "1" + "]" * 65, "body"),
    ],
)
async def test_an_import_nested_too_deep_or_with_a_huge_number_is_422(
    client: Any, admin: dict[str, str], body: str, field: str
) -> None:
    answer = await client.post(
        "/api/v1/imports/accounts",
        content=body,
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert named(answer) == [field]


async def test_a_page_form_with_a_control_character_is_refused(client: Any) -> None:
    from tests.support.web import csrf_token

    csrf = await csrf_token(client)
    answer = await client.post(
        "/login",
        data={"email": "a\u0000@example.com", "password": "x", "_csrf_token": csrf},
    )
    assert answer.status_code == 422, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert "<strong>email</strong>: contains a control character (U+0000)" in answer.text


async def test_a_body_over_the_limit_says_what_the_limit_is(
    client: Any, admin: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/metrics",
        content=b"[" + b" " * (4 * 1024 * 1024) + b"]",
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["detail"] == [
        {"field": "body", "message": "larger than this endpoint's limit of 4 MiB (4194304 bytes)"}
    ]


async def test_a_body_sent_in_chunks_reaches_the_view_whole(
    client: Any, admin: dict[str, str]
) -> None:
    items = [
        {"account_id": "a1", "metric": "logins", "day": f"2026-11-{day:02d}", "value": day}
        for day in range(1, 29)
    ]
    encoded = json.dumps({"metrics": items}).encode()

    async def chunks() -> Any:
        for start in range(0, len(encoded), 100):
            yield encoded[start : start + 100]

    answer = await client.post(
        "/api/v1/metrics", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["received"] == 28


async def test_a_chunked_body_over_the_limit_is_still_413(
    client: Any, admin: dict[str, str]
) -> None:
    async def chunks() -> Any:
        yield b'{"metrics": ['
        for _ in range(5):
            yield b" " * (1024 * 1024)

    answer = await client.post(
        "/api/v1/metrics", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["detail"][0]["field"] == "body"


@pytest.mark.postgres_only
async def test_a_value_postgresql_refuses_is_a_422_not_a_500(
    client: Any, admin: dict[str, str]
) -> None:
    """Schemathesis found a survey id that fits 64 bits but not the column, which
    PostgreSQL's driver refused with a 500; the schedule's own bounds now refuse it naming
    the field (the net under them is tested below)."""
    answer = await client.post(
        "/api/v1/schedules",
        json={"survey_id": -1793963015872463104, "name": "quarterly"},
        headers=admin,
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"][0]["field"] == "survey_id"


def test_the_database_refusing_a_value_is_told_from_a_bug() -> None:
    import asyncpg
    from litestar import Request

    from feedback.errors import internal_error_handler, refused_by_the_database

    try:
        try:
            raise OverflowError("value out of int32 range")
        except OverflowError as cause:
            raise asyncpg.DataError("invalid input for query argument $1: ...") from cause
    except asyncpg.DataError as exc:
        encoded = exc
    assert refused_by_the_database(encoded)
    assert refused_by_the_database(asyncpg.CharacterNotInRepertoireError("0x00"))
    assert not refused_by_the_database(asyncpg.DivisionByZeroError("division by zero"))
    assert not refused_by_the_database(ValueError("a bug"))
    scope: Any = {"type": "http", "method": "POST", "path": "/api/v1/x", "headers": []}
    answer = internal_error_handler(Request(scope), encoded)
    assert answer.status_code == 422
