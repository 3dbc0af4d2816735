"""API conventions every later endpoint follows: error shape, OpenAPI, health."""

from __future__ import annotations

from typing import Any

from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token


async def test_healthz_reports_the_database(client: Any) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "reachable"}


async def test_the_openapi_schema_and_docs_are_served(client: Any) -> None:
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/imports/{kind}" in schema.json()["paths"]
    docs = await client.get("/schema")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_not_found_uses_the_error_shape(client: Any) -> None:
    await book()
    answer = await client.get("/api/v1/accounts/nope", headers=bearer(await token(Role.admin)))
    assert answer.status_code == 404
    assert answer.json() == {"error": "no account 'nope'", "detail": []}


async def test_a_bad_query_parameter_names_the_field(client: Any) -> None:
    answer = await client.get(
        "/api/v1/accounts?limit=5000", headers=bearer(await token(Role.admin))
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == "limit"


async def test_a_bad_json_body_names_the_field(client: Any) -> None:
    admin = bearer(await token(Role.admin))
    for body, field in (({"role": "emperor"}, "role"), ({"role": "admin", "bogus": 1}, "bogus")):
        answer = await client.post("/api/v1/tokens", json=body, headers=admin)
        assert answer.status_code == 400
        assert answer.json()["error"] == "validation failed"
        assert answer.json()["detail"][0]["field"] == field


async def test_a_truncated_json_body_is_a_client_error(client: Any) -> None:
    admin = bearer(await token(Role.admin))
    answer = await client.post(
        "/api/v1/tokens", content=b"{", headers={**admin, "content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "body"


async def test_a_staff_user_with_a_short_password_is_refused(client: Any) -> None:
    admin = bearer(await token(Role.admin))
    answer = await client.post(
        "/api/v1/staff-users",
        json={"email": "new@example.com", "role": "analyst", "password": "short"},
        headers=admin,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"field": "password", "message": "must be at least 12 characters"}
    ]


async def test_an_admin_creates_a_staff_user_who_can_then_sign_in(client: Any) -> None:
    admin = bearer(await token(Role.admin))
    made = await client.post(
        "/api/v1/staff-users",
        json={"email": "New@Example.com", "role": "analyst", "password": "long enough pw"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    again = await client.post(
        "/api/v1/staff-users",
        json={"email": "new@example.com", "role": "analyst", "password": "long enough pw"},
        headers=admin,
    )
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "email"
    listed = await client.get("/api/v1/staff-users", headers=admin)
    assert [u["email"] for u in listed.json()] == ["new@example.com"]
