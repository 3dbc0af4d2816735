"""The API documentation: complete for the widget's endpoints (their bodies, answers and our
error shape, checked against what the endpoints really answer), and HEAD on its routes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest

from feedback.settings import get_settings
from feedback.surveys.widget_openapi import FIELDS
from tests.support.factories import ORIGIN, widget_setup

WIDGET = "/widget/v1/{key}"
BODIES = {
    "eligibility": "CheckIn",
    "responses": "ScoreIn",
    "comments": "CommentIn",
    "dismissals": "DismissIn",
}


@pytest.fixture
async def openapi(client: Any) -> dict[str, Any]:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        found: dict[str, Any] = schema["components"]["schemas"][name]
        return found
    return node


def is_our_error_shape(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    body = resolve(schema, node)
    item = resolve(schema, body["properties"]["detail"]["items"])
    return (
        set(body["properties"]) == {"error", "detail"}
        and set(body["required"]) == {"error", "detail"}
        and set(item["properties"]) == {"field", "message"}
    )


@pytest.mark.parametrize("endpoint", sorted(BODIES))
async def test_each_widget_post_documents_its_body_field_by_field(
    openapi: dict[str, Any], endpoint: str
) -> None:
    operation = openapi["paths"][f"{WIDGET}/{endpoint}"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    # the widget sends text/plain (no preflight); application/json is accepted too
    assert set(body["content"]) == {"text/plain", "application/json"}
    schema = body["content"]["text/plain"]["schema"]
    assert schema == body["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == set(FIELDS[BODIES[endpoint]])
    for name, field in schema["properties"].items():
        assert len(field.get("description", "")) > 20, f"{endpoint}: {name}"
    assert "$ref" not in json.dumps(schema)  # nothing points at a definition the document lacks


async def test_the_score_body_states_its_limits(openapi: dict[str, Any]) -> None:
    schema = openapi["paths"][f"{WIDGET}/responses"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert set(schema["required"]) == {"display_token", "client_id", "score"}
    assert schema["properties"]["score"]["minimum"] == 0
    assert schema["properties"]["score"]["maximum"] == 10
    assert schema["properties"]["client_id"]["minLength"] == 8


@pytest.mark.parametrize("endpoint", sorted(BODIES))
async def test_each_widget_post_documents_its_refusals_with_our_error_shape(
    openapi: dict[str, Any], endpoint: str
) -> None:
    responses = openapi["paths"][f"{WIDGET}/{endpoint}"]["post"]["responses"]
    refusals = {status for status in responses if status.startswith(("4", "5"))}
    assert {"400", "401", "403", "413", "422", "429"} <= refusals
    for status in refusals:
        content = responses[status]["content"]["application/json"]["schema"]
        assert is_our_error_shape(openapi, content), f"{endpoint} {status}: {content}"
    # Litestar's own 400 body (status_code, detail as text, extra) is not what we answer
    assert "status_code" not in json.dumps(resolve(openapi, content))
    success = [s for s in responses if s.startswith("2")]
    for status in success:
        answer = resolve(openapi, responses[status]["content"]["application/json"]["schema"])
        assert answer.get("properties"), f"{endpoint} {status} has no documented shape"


async def post(client: Any, path: str, body: str, origin: dict[str, str] = ORIGIN) -> Any:
    return await client.post(path, content=body, headers={"content-type": "text/plain", **origin})


async def test_what_the_widget_answers_when_it_refuses_is_what_the_docs_say(
    client: Any, openapi: dict[str, Any]
) -> None:
    setup = await widget_setup()
    key = setup["key"]
    score = json.dumps({"display_token": "t" * 20, "client_id": "client-1", "score": 11})
    calls = [
        ("eligibility", "wk_nobody", json.dumps({"user_id": "u", "account_id": "a"}), ORIGIN),
        ("eligibility", key, json.dumps({"user_id": "u"}), {"origin": "https://evil.example"}),
        ("eligibility", key, "{not json", ORIGIN),
        (
            "eligibility",
            key,
            json.dumps({"user_id": "u", "account_id": "a", "x": "a" * 70_000}),
            ORIGIN,
        ),
        ("responses", key, score, ORIGIN),
        ("comments", key, json.dumps({"display_token": "unknown-token", "comment": "x"}), ORIGIN),
        ("dismissals", key, json.dumps({"display_token": ""}), ORIGIN),
    ]
    seen = set()
    for endpoint, used_key, body, origin in calls:
        answer = await post(client, f"/widget/v1/{used_key}/{endpoint}", body, origin)
        status = str(answer.status_code)
        seen.add(status)
        documented = openapi["paths"][f"{WIDGET}/{endpoint}"]["post"]["responses"]
        assert status in documented, f"{endpoint} answered {status}, undocumented: {answer.text}"
        got = answer.json()
        assert set(got) == {"error", "detail"} and isinstance(got["error"], str), got
        assert all(set(item) >= {"field", "message"} for item in got["detail"]), got
    # the calls above reach each kind of refusal
    assert seen == {"401", "403", "413", "422"}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/schema", "text/html"),
        ("/schema/openapi.json", "application/vnd.oai.openapi+json"),
        ("/schema/assets/swagger-ui-bundle.js", "text/javascript"),
        ("/schema/assets/api-docs.js", "text/javascript"),
    ],
)
async def test_head_answers_on_the_docs_routes_as_get_does(
    client: Any, path: str, kind: str
) -> None:
    got = await client.get(path)
    asked = await client.head(path)
    assert asked.status_code == 200
    assert asked.headers["content-type"].startswith(kind)
    assert asked.content == b""
    assert int(asked.headers["content-length"]) == len(got.content)
    assert asked.headers["content-security-policy"] == got.headers["content-security-policy"]


async def test_head_of_an_unknown_docs_file_is_404(client: Any) -> None:
    assert (await client.head("/schema/assets/index.html")).status_code == 404


async def test_head_on_private_docs_tells_a_stranger_nothing(client: Any) -> None:
    from feedback.app import create_app

    private = create_app(dataclasses.replace(get_settings(), public_api_docs=False))
    transport = httpx.ASGITransport(app=private)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as stranger:
        for path in ("/schema", "/schema/openapi.json", "/schema/assets/swagger-ui.css"):
            assert (await stranger.head(path)).status_code == 404, path
