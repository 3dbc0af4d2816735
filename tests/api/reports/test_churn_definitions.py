"""The churn report's definitions: survival censored at the end of what was observed
(`observed_until`) and at `window_days`, the log-rank with its statistic, detractors against
the rest, and never "inf" or "nan" (issue 17)."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scipy import stats

from feedback.imports.saas_churn import DAYS_PER_MONTH, import_saas_churn
from feedback.imports.services import Importer
from feedback.kernel.principal import Role
from tests.support.factories import bearer, import_csv, token
from tests.support.paths import SAAS_CHURN

DAY0 = datetime(2025, 1, 1, tzinfo=UTC)


def day(offset: int) -> str:
    return (DAY0 + timedelta(days=offset)).isoformat()


# account, score, churn notice day, observed_until day
SMALL_BOOK = [
    ("d1", 3, 10, None),
    ("d2", 3, None, 20),  # observed for 20 days only: censored there, not at the window
    ("d3", 3, 30, None),
    ("p1", 10, None, 15),
    ("p2", 10, 25, None),
    ("p3", 10, None, None),
    ("a1", 8, 5, None),
]


async def load_small_book() -> None:
    lines = ["external_id,name,created_at,observed_until"]
    lines += [
        f"{a},{a},{day(0)},{'' if until is None else day(until)}" for a, _, _, until in SMALL_BOOK
    ]
    assert (await import_csv("accounts", "\n".join(lines) + "\n")).ok
    lines = ["account_id,user_id,score,answered_at"]
    lines += [f"{a},{a}-u,{score},{day(0)}" for a, score, _, _ in SMALL_BOOK]
    assert (await import_csv("responses", "\n".join(lines) + "\n")).ok
    lines = ["account_id,noticed_at"]
    lines += [f"{a},{day(at)}" for a, _, at, _ in SMALL_BOOK if at is not None]
    assert (await import_csv("churn", "\n".join(lines) + "\n")).ok


async def churn(client: Any, query: str = "") -> dict[str, Any]:
    headers = bearer(await token(Role.analyst))
    answer = await client.get(f"/api/v1/reports/churn?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert "inf" not in answer.text.lower() and "nan" not in answer.text.lower()
    return answer.json()


async def test_survival_censors_an_account_at_its_observed_until(client: Any) -> None:
    await load_small_book()
    report = await churn(client, "window_days=60")
    curves = {c["group"]: c for c in report["survival_days"]}
    # detractors: churn at 10 (3 at risk), d2 censored at 20, churn at 30 (1 at risk); the
    # curve has a point at every observed time, censored ones included
    assert curves["detractor"]["times"] == [10.0, 20.0, 30.0]
    assert curves["detractor"]["survival"] == pytest.approx([2 / 3, 2 / 3, 0.0])
    # promoters: p1 censored at 15, churn at 25 with p2 and p3 at risk, p3 censored at 60
    assert curves["promoter"]["times"] == [15.0, 25.0, 60.0]
    assert curves["promoter"]["survival"] == pytest.approx([1.0, 0.5, 0.5])
    assert report["censored_by_observation"] == 2


async def test_the_pairwise_log_rank_gives_the_hand_computed_statistic(client: Any) -> None:
    await load_small_book()
    pair = (await churn(client, "window_days=60"))["logrank"]["detractor_vs_promoter"]
    # event times 10 (D; 3 vs 3 at risk), 25 (P; 1 vs 2), 30 (D; 1 vs 1)
    observed_minus_expected = (1 - 3 / 6) + (0 - 1 / 3) + (1 - 1 / 2)
    variance = 3 / 6 * 3 / 6 + 1 / 3 * 2 / 3 + 1 / 2 * 1 / 2
    chi2 = observed_minus_expected**2 / variance
    assert pair["groups"] == ["detractor", "promoter"]
    assert pair["chi2"] == pytest.approx(chi2)
    assert pair["df"] == 1
    assert pair["p"] == pytest.approx(stats.chi2.sf(chi2, 1))


async def test_window_days_censors_the_log_rank_as_it_counts_the_rates(client: Any) -> None:
    await load_small_book()
    wide = await churn(client, "window_days=60")
    narrow = await churn(client, "window_days=28")
    # d3's churn at day 30 is outside a 28-day window: censored at 28, as the rate counts it
    pair = narrow["logrank"]["detractor_vs_promoter"]
    chi2 = ((1 - 3 / 6) + (0 - 1 / 3)) ** 2 / (3 / 6 * 3 / 6 + 1 / 3 * 2 / 3)
    assert pair["chi2"] == pytest.approx(chi2)
    assert pair["chi2"] != pytest.approx(wide["logrank"]["detractor_vs_promoter"]["chi2"])
    detractors = {c["group"]: c for c in narrow["survival_days"]}["detractor"]
    assert detractors["times"] == [10.0, 20.0, 28.0]
    assert detractors["survival"] == pytest.approx([2 / 3, 2 / 3, 2 / 3])
    rates = {r["group"]: r for r in narrow["rates"]}
    assert rates["detractor"]["churned"] == 1
    k_sample = narrow["logrank"]["k_sample"]
    assert k_sample["groups"] == ["detractor", "passive", "promoter"] and k_sample["df"] == 2
    assert narrow["logrank_p"] == k_sample["p"]


async def test_detractors_are_compared_with_promoters_and_with_the_rest(client: Any) -> None:
    await load_small_book()
    report = await churn(client, "window_days=60")
    rest = report["detractor_vs_rest"]
    # detractors 2 of 3; the rest (passive a1, promoters) 2 of 4
    assert (rest["exposed_accounts"], rest["exposed_churned"]) == (3, 2)
    assert (rest["reference_accounts"], rest["reference_churned"]) == (4, 2)
    assert rest["relative_risk"] == pytest.approx((2 / 3) / (2 / 4))
    assert rest["fisher_p"] == pytest.approx(stats.fisher_exact([[2, 1], [2, 2]]).pvalue)
    assert rest["odds_ratio"] == pytest.approx(
        stats.contingency.odds_ratio([[2, 1], [2, 2]]).statistic
    )
    pair = report["detractor_vs_promoter"]
    assert pair["relative_risk"] == pytest.approx((2 / 3) / (1 / 3))


async def test_no_churn_among_promoters_is_said_in_words_not_inf(client: Any) -> None:
    lines = ["external_id,name"] + [f"x{i},x{i}" for i in range(6)]
    assert (await import_csv("accounts", "\n".join(lines) + "\n")).ok
    lines = ["account_id,user_id,score,answered_at"]
    lines += [f"x{i},x{i}-u,{3 if i < 3 else 10},{day(0)}" for i in range(6)]
    assert (await import_csv("responses", "\n".join(lines) + "\n")).ok
    assert (await import_csv("churn", f"account_id,noticed_at\nx0,{day(9)}\nx1,{day(40)}\n")).ok
    report = await churn(client)
    risk = report["detractor_vs_promoter"]
    assert risk["relative_risk"] is None and risk["rr_reason"] == "no churn among promoters"
    assert risk["odds_ratio"] is None and risk["or_reason"] == "no churn among promoters"
    assert risk["fisher_p"] == pytest.approx(stats.fisher_exact([[2, 1], [0, 3]]).pvalue)
    from tests.support.web import as_role

    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn")
    assert page.status_code == 200
    assert "No churn among promoters: the ratio is not defined" in page.text
    assert not re.search(r"\b(inf|nan)\b", page.text, re.IGNORECASE)


# --- saas_churn.csv: months_active is the tenure ---------------------------------------------


async def test_saas_churn_survival_uses_each_rows_months_as_its_observation(client: Any) -> None:
    results = await import_saas_churn(Importer(), SAAS_CHURN.read_bytes(), "2025-01-01")
    assert all(r.ok for r in results)
    report = await churn(client, "window_days=3650")
    durations: dict[str, list[tuple[float, bool]]] = {}
    with SAAS_CHURN.open(newline="") as handle:
        for row in csv.DictReader(handle):
            score = int(row["csat_score"])
            group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            days = float(round(float(row["months_active"]) * DAYS_PER_MONTH))
            durations.setdefault(group, []).append((days, float(row["churned"]) == 1.0))
    curves = {c["group"]: c for c in report["survival_days"]}
    for group, rows in durations.items():
        # Kaplan-Meier by hand: at each churn time, survival *= 1 - churned / at risk
        times = sorted({t for t, event in rows if event})
        survival, expected = 1.0, []
        for t in times:
            at_risk = sum(1 for u, _ in rows if u >= t)
            churned = sum(1 for u, event in rows if u == t and event)
            survival *= 1 - churned / at_risk
            expected.append(survival)
        assert set(times) <= set(curves[group]["times"])
        for t, value in zip(curves[group]["times"], curves[group]["survival"], strict=True):
            steps = [s for u, s in zip(times, expected, strict=True) if u <= t]
            assert value == pytest.approx(steps[-1] if steps else 1.0, abs=1e-12)
        # the curve ends at the longest observation, not at the time of the request
        assert curves[group]["times"][-1] == max(u for u, _ in rows)
    # nobody is censored at the time of the request: every row has its observed months
    assert report["censored_by_observation"] == sum(
        1 for rows in durations.values() for _, event in rows if not event
    )
