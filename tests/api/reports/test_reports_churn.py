"""GET /api/v1/reports/churn, checked against an independent scipy computation on the raw
saas_churn.csv (the real-data check of the analytics issue)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from scipy import stats

from feedback.imports.saas_churn import import_saas_churn
from feedback.imports.services import Importer
from feedback.kernel.principal import Role
from tests.support.factories import bearer, token
from tests.support.paths import SAAS_CHURN


def category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


@pytest.fixture
async def report(client: Any) -> dict[str, Any]:
    data = SAAS_CHURN.read_bytes()
    results = await import_saas_churn(Importer(), data, "2025-01-01")
    assert all(r.ok for r in results)
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/reports/churn?window_days=400", headers=analyst)
    assert answer.status_code == 200, answer.text
    return answer.json()


def raw_rows() -> list[tuple[str, bool]]:
    with SAAS_CHURN.open(newline="") as handle:
        return [
            (category(int(r["csat_score"])), float(r["churned"]) == 1.0)
            for r in csv.DictReader(io.StringIO(handle.read()))
        ]


async def test_churn_rates_by_category_match_the_raw_file(report: dict[str, Any]) -> None:
    rows = raw_rows()
    rates = {r["group"]: r for r in report["rates"]}
    for group in ("detractor", "passive", "promoter"):
        members = [churned for g, churned in rows if g == group]
        assert rates[group]["accounts"] == len(members)
        assert rates[group]["churned"] == sum(members)
        wilson = stats.binomtest(sum(members), len(members)).proportion_ci(method="wilson")
        assert rates[group]["ci_low"] == pytest.approx(wilson.low, abs=1e-9)
        assert rates[group]["ci_high"] == pytest.approx(wilson.high, abs=1e-9)
    assert rates["non_respondent"]["accounts"] == 0
    assert report["accounts"] == len(rows) and report["excluded"] == 0


async def test_detractor_risk_and_fisher_p_match_the_raw_file(report: dict[str, Any]) -> None:
    rows = raw_rows()
    det = [c for g, c in rows if g == "detractor"]
    pro = [c for g, c in rows if g == "promoter"]
    table = [[sum(det), len(det) - sum(det)], [sum(pro), len(pro) - sum(pro)]]
    risk = report["detractor_vs_promoter"]
    assert risk["fisher_p"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)
    expected_rr = (sum(det) / len(det)) / (sum(pro) / len(pro))
    assert risk["relative_risk"] == pytest.approx(expected_rr, rel=1e-9)


async def test_the_nps_churn_correlation_matches_the_raw_file(report: dict[str, Any]) -> None:
    rows = raw_rows()
    values = [{"promoter": 100, "passive": 0, "detractor": -100}[g] for g, _ in rows]
    expected = stats.pearsonr(values, [float(c) for _, c in rows])
    correlation = report["nps_churn_correlation"]
    assert correlation["r"] == pytest.approx(expected.statistic, abs=1e-9)
    assert correlation["p"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert correlation["n"] == len(rows)


async def test_survival_curves_and_the_log_rank_test_are_reported(report: dict[str, Any]) -> None:
    curves = {c["group"]: c for c in report["survival_days"]}
    assert set(curves) == {"detractor", "passive", "promoter"}
    assert all(0 <= p <= 1 for c in curves.values() for p in c["survival"])
    assert 0 <= report["logrank_p"] <= 1


async def test_a_bad_window_names_the_field(client: Any) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/reports/churn?window_days=0", headers=analyst)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"][0]["field"] == "window_days"
