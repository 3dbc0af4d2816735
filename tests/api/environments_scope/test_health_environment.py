"""Health is computed from production answers only: the health API and pages refuse another
environment with a 400 naming `environment`, and take production (or nothing) as before."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.health.services import PRODUCTION_ONLY
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token
from tests.support.web import signed_in_admin

API = [
    "/api/v1/health",
    "/api/v1/health/trend",
    "/api/v1/health/accounts/a1",
    "/api/v1/reports/health-model",
]


@pytest.mark.parametrize("path", API)
async def test_the_health_api_refuses_staging_naming_the_field(client: Any, path: str) -> None:
    await book()
    headers = bearer(await token(Role.admin))
    refused = await client.get(f"{path}?environment=staging", headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"] == [{"field": "environment", "message": PRODUCTION_ONLY}]
    assert (await client.get(f"{path}?environment=production", headers=headers)).status_code == 200
    assert (await client.get(path, headers=headers)).status_code == 200
    nonsense = await client.get(f"{path}?environment=prod", headers=headers)
    assert nonsense.status_code == 422
    assert nonsense.json()["detail"][0]["field"] == "environment"


@pytest.mark.parametrize("path", ["/reports/health", "/reports/health/accounts/a1"])
async def test_the_health_pages_say_so_instead_of_showing_staging(client: Any, path: str) -> None:
    await book()
    await signed_in_admin(client)
    refused = await client.get(f"{path}?environment=development")
    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    assert PRODUCTION_ONLY in refused.text
    shown = await client.get(path)
    assert shown.status_code == 200
    assert "Health counts production answers only" in shown.text
