"""Who may call what: no token -> 401, wrong role -> 403, right role -> 2xx, for every route."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.auth.models import ApiToken
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token

ALL = {Role.admin, Role.manager, Role.csm, Role.analyst}
ADMIN = {Role.admin}
READERS = {Role.admin, Role.manager, Role.analyst}
ACT = {Role.admin, Role.manager, Role.csm}

# method, path, json body, roles allowed
ROUTES: list[tuple[str, str, Any, set[Role]]] = [
    ("GET", "/api/v1/me", None, ALL),
    ("GET", "/api/v1/accounts", None, ALL),
    ("GET", "/api/v1/accounts/a1", None, ALL),
    ("GET", "/api/v1/accounts/a1/users", None, ALL),
    ("GET", "/api/v1/users/u1", None, ALL),
    ("GET", "/api/v1/csms", None, ALL),
    ("GET", "/api/v1/tokens", None, ADMIN),
    ("POST", "/api/v1/tokens", {"role": "analyst", "name": "reports"}, ADMIN),
    ("GET", "/api/v1/staff-users", None, ADMIN),
    ("GET", "/api/v1/audit", None, ADMIN),
    ("POST", "/api/v1/imports/csms", [{"email": "new@example.com", "name": "New"}], ADMIN),
    ("GET", "/api/v1/surveys", None, READERS),
    ("POST", "/api/v1/surveys", {"name": "NPS"}, ADMIN),
    ("GET", "/api/v1/schedules", None, READERS),
    ("GET", "/api/v1/widget-keys", None, ADMIN),
    (
        "POST",
        "/api/v1/widget-keys",
        {"name": "web", "allowed_origins": ["https://a.example"]},
        ADMIN,
    ),
    ("GET", "/api/v1/settings/surveys", None, READERS),
    ("GET", "/api/v1/reports/nps?group_by=plan", None, ALL),
    ("GET", "/api/v1/reports/churn", None, ALL),
    ("GET", "/api/v1/reports/responses?category=promoter", None, ALL),
    ("GET", "/api/v1/reports/quadrant", None, ALL),
    ("GET", "/api/v1/reports/segments?dimension=plan", None, ALL),
    ("PUT", "/api/v1/settings/surveys", {"min_days_between_surveys": 5}, ADMIN),
    (
        "POST",
        "/api/v1/metrics",
        [{"account_id": "a1", "metric": "logins", "day": "2026-11-01", "value": 3}],
        ADMIN,
    ),
    ("GET", "/api/v1/metrics", None, ALL),
    ("GET", "/api/v1/health", None, ALL),
    ("GET", "/api/v1/health/trend", None, ALL),
    ("GET", "/api/v1/health/accounts/a1", None, ALL),
    ("GET", "/api/v1/settings/health", None, ALL),
    ("GET", "/api/v1/reports/health-model", None, ALL),
    ("GET", "/api/v1/reports/retention?period=month", None, ALL),
    ("PUT", "/api/v1/settings/health", {"green_min": 75}, ADMIN),
    ("GET", "/api/v1/ctas", None, ALL),
    ("POST", "/api/v1/ctas", {"account": "a1", "type": "onboarding", "reason": "Kick-off"}, ACT),
    ("GET", "/api/v1/cta-rules", None, ADMIN),
    ("PUT", "/api/v1/cta-rules", {"going_dark": {"days": 30}}, ADMIN),
    ("GET", "/api/v1/cta-types", None, ALL),
    ("POST", "/api/v1/cta-types", {"key": "expansion", "label": "Expansion"}, ADMIN),
    ("GET", "/api/v1/outbox", None, ADMIN),
]


@pytest.fixture
async def tokens() -> dict[Role, str]:
    await book()
    return {
        Role.admin: await token(Role.admin),
        Role.manager: await token(Role.manager),
        Role.csm: await token(Role.csm, "ann@example.com"),
        Role.analyst: await token(Role.analyst),
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
async def test_each_route_enforces_its_roles(
    client: Any, tokens: dict[Role, str], method: str, path: str, body: Any, allowed: set[Role]
) -> None:
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]
    for role, value in tokens.items():
        answer = await client.request(method, path, json=body, headers=bearer(value))
        expected = "2xx" if role in allowed else 403
        got = "2xx" if 200 <= answer.status_code < 300 else answer.status_code
        assert got == expected, f"{role.value}: {answer.status_code} {answer.text}"


async def test_a_csm_sees_only_their_own_accounts(client: Any, tokens: dict[Role, str]) -> None:
    ann = bearer(tokens[Role.csm])
    listed = await client.get("/api/v1/accounts", headers=ann)
    assert {a["external_id"] for a in listed.json()} == {"a1", "a2"}
    other = await client.get("/api/v1/accounts/b1", headers=ann)
    assert other.status_code == 403
    assert other.json()["error"] == "this account belongs to another CSM"
    assert (await client.get("/api/v1/accounts/b1/users", headers=ann)).status_code == 403
    assert (await client.get("/api/v1/users/u4", headers=ann)).status_code == 403


async def test_a_manager_sees_every_account(client: Any, tokens: dict[Role, str]) -> None:
    listed = await client.get("/api/v1/accounts", headers=bearer(tokens[Role.manager]))
    assert {a["external_id"] for a in listed.json()} == {"a1", "a2", "b1"}


async def test_a_revoked_token_is_refused(client: Any, tokens: dict[Role, str]) -> None:
    admin = bearer(tokens[Role.admin])
    made = await client.post("/api/v1/tokens", json={"role": "analyst"}, headers=admin)
    assert made.status_code == 201
    analyst = bearer(made.json()["token"])
    assert (await client.get("/api/v1/me", headers=analyst)).status_code == 200
    gone = await client.delete(f"/api/v1/tokens/{made.json()['id']}", headers=admin)
    assert gone.status_code == 204
    assert (await client.get("/api/v1/me", headers=analyst)).status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer fbk_unknown", "Basic YTpi", "Bearer "]
)
async def test_bad_credentials_get_401(client: Any, header: str) -> None:
    answer = await client.get("/api/v1/me", headers={"Authorization": header})
    assert answer.status_code == 401
    assert set(answer.json()) == {"error", "detail"}


async def test_tokens_are_stored_hashed(tokens: dict[Role, str]) -> None:
    stored = await ApiToken.select(ApiToken.token_hash)
    values = set(tokens.values())
    assert all(row["token_hash"] not in values for row in stored)
    assert all(len(row["token_hash"]) == 64 for row in stored)


async def test_using_a_token_records_when_it_was_last_used(
    client: Any, tokens: dict[Role, str]
) -> None:
    await client.get("/api/v1/me", headers=bearer(tokens[Role.analyst]))
    used = await ApiToken.select(ApiToken.last_used_at).where(ApiToken.role == "analyst").first()
    assert used["last_used_at"] is not None


async def test_a_csm_token_needs_a_csm(client: Any, tokens: dict[Role, str]) -> None:
    answer = await client.post(
        "/api/v1/tokens", json={"role": "csm"}, headers=bearer(tokens[Role.admin])
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "csm_email"


async def test_every_api_operation_states_its_roles(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            assert operation.get("description", "").startswith("Roles:"), f"{method.upper()} {path}"
            checked += 1
    assert checked >= len(ROUTES)
