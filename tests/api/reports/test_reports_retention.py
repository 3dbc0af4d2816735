"""GET /api/v1/reports/retention: logo retention, GRR and NRR from accounts and churn."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.health.models import HealthSnapshot
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, import_csv, token


@pytest.fixture
async def churned_book() -> None:
    """a1 (120,000.50), a2 (9,000) and b1 (0) since January 2025; a2 leaves in May."""
    await book()
    await Account.update({Account.created_at: datetime(2025, 1, 15, tzinfo=UTC)}, force=True)
    churn = "account_id,noticed_at,effective_at\na2,2025-04-01,2025-05-10\n"
    assert (await import_csv("churn", churn)).ok


async def test_quarterly_retention_from_churn_and_current_arr(
    client: Any, churned_book: None
) -> None:
    answer = await client.get(
        "/api/v1/reports/retention?period=quarter&from=2025-04-01&to=2025-09-30",
        headers=bearer(await token(Role.analyst)),
    )
    assert answer.status_code == 200, answer.text
    q2, q3 = answer.json()["periods"]
    assert q2["period"] == "2025-Q2" and q2["accounts"] == 3 and q2["retained"] == 2
    assert q2["logo_retention"] == pytest.approx(2 / 3)
    assert q2["churned_arr"] == 900000
    assert q2["grr"] == pytest.approx(12000050 / 12900050)
    assert q2["nrr"] == q2["grr"]
    assert q2["arr_source"] == {"snapshot": 0, "current": 5}
    assert (q3["accounts"], q3["logo_retention"], q3["grr"]) == (2, 1.0, 1.0)


async def test_snapshot_arr_shows_expansion_in_nrr_not_grr(client: Any, churned_book: None) -> None:
    a1 = (await Account.select(Account.id).where(Account.external_id == "a1").first())["id"]
    await HealthSnapshot.insert(
        HealthSnapshot(account=a1, day=date(2025, 3, 31), arr_cents=12000050),
        HealthSnapshot(account=a1, day=date(2025, 6, 30), arr_cents=13000000),
    )
    answer = await client.get(
        "/api/v1/reports/retention?period=quarter&from=2025-04-01&to=2025-06-30",
        headers=bearer(await token(Role.admin)),
    )
    (q2,) = answer.json()["periods"]
    assert q2["expansion"] == 999950
    assert q2["grr"] == pytest.approx(12000050 / 12900050)
    assert q2["nrr"] == pytest.approx(13000000 / 12900050)


async def test_monthly_retention_for_a_csm_covers_their_accounts(
    client: Any, churned_book: None
) -> None:
    answer = await client.get(
        "/api/v1/reports/retention?period=month&from=2025-05-01&to=2025-05-31",
        headers=bearer(await token(Role.csm, "bob@example.com")),
    )
    (may,) = answer.json()["periods"]
    assert may["period"] == "2025-05" and may["accounts"] == 1 and may["logo_retention"] == 1.0
    assert may["grr"] is None  # b1's ARR is 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=week", "period"),
        ("from=2025-13-01", "from"),
        ("from=2026-01-01&to=2025-01-01", "from"),
    ],
)
async def test_bad_parameters_answer_422(client: Any, query: str, field: str) -> None:
    answer = await client.get(
        f"/api/v1/reports/retention?{query}", headers=bearer(await token(Role.admin))
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == field
