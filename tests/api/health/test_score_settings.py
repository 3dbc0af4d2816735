"""Health-score settings: the admin API and the admin page, including adopting the model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from analytics.health import DEFAULT_WEIGHTS
from feedback.health.score_settings import load_health_settings
from feedback.kernel.principal import Role
from tests.support.factories import bearer, token
from tests.support.paths import SAAS_CHURN
from tests.support.web import csrf_token, signed_in_admin

SAAS_CHURN_BYTES = SAAS_CHURN.read_bytes()


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_defaults_until_an_admin_changes_them(client: Any, admin: dict[str, str]) -> None:
    got = (await client.get("/api/v1/settings/health", headers=admin)).json()
    assert got["weights"] == DEFAULT_WEIGHTS
    assert (got["green_min"], got["red_below"]) == (70.0, 40.0)
    changed = await client.put(
        "/api/v1/settings/health",
        json={"weights": {"trend": 0, "metric.logins": 25}, "red_below": 30},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    stored = await load_health_settings()
    assert stored.weights == {**DEFAULT_WEIGHTS, "trend": 0.0, "metric.logins": 25.0}
    assert stored.red_below == 30.0 and stored.green_min == 70.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weights": {"nps": -1}}, "weights.nps"),
        ({"weights": {"happiness": 3}}, "weights.happiness"),
        ({"weights": {"nps": "lots"}}, "weights.nps"),
        ({"green_min": 30, "red_below": 50}, "red_below"),
        ({"green_min": 101}, "green_min"),
        ({"colour": "red"}, "colour"),
        (
            {
                "weights": {"nps": 0, "detractor_share": 0, "coverage": 0, "trend": 0},
                "metric_weight": 0,
            },
            "weights",
        ),
    ],
)
async def test_bad_settings_answer_422_naming_the_field(
    client: Any, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = await client.put("/api/v1/settings/health", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == field
    assert (await load_health_settings()).weights == DEFAULT_WEIGHTS


async def test_an_admin_changes_weights_and_bands_in_the_page(client: Any) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/health")
    assert page.status_code == 200 and 'name="weight.nps"' in page.text
    token = await csrf_token(client, "/admin/health")
    saved = await client.post(
        "/admin/health",
        data={
            "_csrf_token": token,
            "weight.nps": "50",
            "weight.coverage": "0",
            "new_metric": "logins",
            "new_metric_weight": "10",
            "green_min": "80",
            "red_below": "50",
        },
    )
    assert saved.status_code == 303, saved.text
    stored = await load_health_settings()
    assert stored.weights["nps"] == 50 and stored.weights["coverage"] == 0
    assert stored.weights["metric.logins"] == 10 and stored.green_min == 80
    bad = await client.post(
        "/admin/health", data={"_csrf_token": token, "green_min": "10", "red_below": "50"}
    )
    assert bad.status_code == 422 and "red_below" in bad.text
    refused = await client.post("/admin/health", data={"green_min": "75"})
    assert refused.status_code == 403  # no CSRF token


async def test_the_model_weights_are_adopted_with_one_click(client: Any) -> None:
    from feedback.imports.saas_churn import import_saas_churn
    from feedback.imports.services import Importer

    data = SAAS_CHURN_BYTES
    assert all(r.ok for r in await import_saas_churn(Importer(), data, "2025-01-01"))
    await signed_in_admin(client)
    page = await client.get("/admin/health?fit=true&feature_days=0")
    assert page.status_code == 200 and "Adopt the model" in page.text
    hidden = dict(
        re.findall(r'name="(weight\.[^"]+)" value="([^"]+)"', page.text.split("adopt-model")[1])
    )
    assert hidden["weight.nps"] == "100.0"
    token = await csrf_token(client, "/admin/health")
    adopted = await client.post("/admin/health/adopt-model", data={"_csrf_token": token, **hidden})
    assert adopted.status_code == 303
    assert (await load_health_settings()).weights["nps"] == 100.0
    assert (await load_health_settings()).weights["coverage"] == 0.0
