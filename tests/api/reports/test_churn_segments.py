"""GET /api/v1/reports/churn/segments, each figure checked against an independent
computation in the test (scipy's Wilson, Fisher and relative risk; Newcombe's interval and
Benjamini-Hochberg by hand) on accounts made through the importers, and on saas_churn.csv
by company size band."""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scipy import stats
from scipy.stats.contingency import relative_risk

from analytics.nps import raw_nps_interval
from feedback.imports.saas_churn import import_saas_churn
from feedback.imports.services import Importer
from feedback.kernel.principal import Role
from tests.support.factories import bearer, import_csv, token
from tests.support.paths import SAAS_CHURN

START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW = 365
PLANS = {"free": 0.45, "paid": 0.25, "premium": 0.08}  # churn probability per account


def category(mean: float) -> str:
    return "promoter" if mean >= 9 else "passive" if mean >= 7 else "detractor"


def make_book(seed: int = 7) -> list[dict[str, Any]]:
    """Accounts with a plan, a CSM, 0-2 answers and maybe a churn notice: the raw truth the
    test counts from."""
    rng = random.Random(seed)
    accounts = []
    for number in range(90):
        plan = list(PLANS)[number % 3]
        scores = [rng.choice([2, 5, 6, 7, 8, 9, 10]) for _ in range(rng.choice([0, 1, 1, 2]))]
        first = START + timedelta(days=rng.randint(0, 30))
        churn_at = None
        if rng.random() < PLANS[plan] + (0.2 if scores and sum(scores) / len(scores) < 7 else 0):
            churn_at = first + timedelta(days=rng.choice([-5, 40, 200, 300, 500]))
        accounts.append(
            {
                "id": f"acc-{number:03d}",
                "plan": plan,
                "csm": "ann@example.com" if number % 2 else "bob@example.com",
                "region": ["emea", "amer"][number % 2],
                "scores": scores,
                "first": first,
                "created": START - timedelta(days=10),
                "churn_at": churn_at,
            }
        )
    return accounts


async def load(accounts: list[dict[str, Any]]) -> None:
    csms = "email,name\nann@example.com,Ann\nbob@example.com,Bob\n"
    assert (await import_csv("csms", csms)).ok
    lines = ["external_id,name,plan,csm_email,created_at,region"]
    lines += [
        f"{a['id']},{a['id']},{a['plan']},{a['csm']},{a['created'].isoformat()},{a['region']}"
        for a in accounts
    ]
    result = await import_csv("accounts", "\n".join(lines) + "\n")
    assert result.ok, result.errors
    lines = ["account_id,user_id,score,answered_at"]
    for a in accounts:
        for i, score in enumerate(a["scores"]):
            moment = a["first"] + timedelta(days=3 * i)
            lines.append(f"{a['id']},{a['id']}-u{i},{score},{moment.isoformat()}")
    result = await import_csv("responses", "\n".join(lines) + "\n")
    assert result.ok, result.errors
    lines = ["account_id,noticed_at"]
    lines += [f"{a['id']},{a['churn_at'].isoformat()}" for a in accounts if a["churn_at"]]
    result = await import_csv("churn", "\n".join(lines) + "\n")
    assert result.ok, result.errors


def outcome(a: dict[str, Any]) -> tuple[bool, bool]:
    """(counted, churned within the window) by the report's definition, counted by hand."""
    start = a["first"] if a["scores"] else a["created"]
    if a["churn_at"] is not None and a["churn_at"] < start:
        return False, False
    return True, a["churn_at"] is not None and a["churn_at"] <= start + timedelta(days=WINDOW)


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def bh(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, by hand: p_(i) m / i, made monotone from the
    largest down."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def expected_segments(accounts: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in accounts:
        counted, churned = outcome(a)
        if counted:
            groups.setdefault(a[key], []).append({**a, "churned": churned})
    total_n = sum(len(g) for g in groups.values())
    total_k = sum(sum(m["churned"] for m in g) for g in groups.values())
    result = {}
    for name, members in groups.items():
        n, k = len(members), sum(m["churned"] for m in members)
        rest_n, rest_k = total_n - n, total_k - k
        p1, p2 = k / n, rest_k / rest_n
        (l1, u1), (l2, u2) = wilson(k, n), wilson(rest_k, rest_n)
        answers = [s for m in members for s in m["scores"]]
        respondents = [m for m in members if m["scores"]]
        detractors = [
            m for m in respondents if category(sum(m["scores"]) / len(m["scores"])) == "detractor"
        ]
        others = [m for m in members if m not in detractors]
        a_k = sum(m["churned"] for m in detractors)
        c_k = sum(m["churned"] for m in others)
        result[name] = {
            "accounts": n,
            "churned": k,
            "rate": p1,
            "rate_ci": wilson(k, n),
            "diff": p1 - p2,
            "diff_ci": (
                p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
            ),
            "p": stats.fisher_exact([[k, n - k], [rest_k, rest_n - rest_k]]).pvalue,
            "responses": len(answers),
            "nps": 100
            * (sum(s >= 9 for s in answers) - sum(s <= 6 for s in answers))
            / len(answers),
            "nps_counts": (
                sum(s >= 9 for s in answers),
                sum(7 <= s <= 8 for s in answers),
                sum(s <= 6 for s in answers),
            ),
            "detractor_share": len(detractors) / len(respondents),
            "rr": (len(detractors), a_k, len(others), c_k),
        }
    names = list(result)
    for name, q in zip(names, bh([result[n]["p"] for n in names]), strict=True):
        result[name]["q"] = q
    return result


async def get_scan(
    client: Any, query: str, role: Role = Role.analyst, csm: str | None = None
) -> Any:
    headers = bearer(await token(role, csm))
    return await client.get(f"/api/v1/reports/churn/segments?{query}", headers=headers)


async def test_each_figure_by_plan_equals_an_independent_computation(client: Any) -> None:
    accounts = make_book()
    await load(accounts)
    answer = await get_scan(client, f"dimension=plan&window_days={WINDOW}")
    assert answer.status_code == 200, answer.text
    scan = answer.json()
    expected = expected_segments(accounts, "plan")
    got = {s["key"]: s for s in scan["segments"]}
    assert set(got) == set(expected)
    assert scan["accounts"] == sum(e["accounts"] for e in expected.values())
    assert scan["excluded"] == sum(1 for a in accounts if not outcome(a)[0])
    for name, e in expected.items():
        s = got[name]
        assert (s["accounts"], s["churned"]) == (e["accounts"], e["churned"])
        assert s["rate"] == pytest.approx(e["rate"])
        assert (s["rate_low"], s["rate_high"]) == pytest.approx(e["rate_ci"], abs=1e-9)
        assert s["diff"] == pytest.approx(e["diff"])
        assert (s["diff_low"], s["diff_high"]) == pytest.approx(e["diff_ci"], abs=1e-9)
        assert s["p_value"] == pytest.approx(e["p"], rel=1e-9)
        assert s["q_value"] == pytest.approx(e["q"], rel=1e-9)
        assert s["significant"] == (e["q"] <= 0.05)
        assert s["responses"] == e["responses"]
        assert s["nps"] == pytest.approx(e["nps"])
        assert s["detractor_share"] == pytest.approx(e["detractor_share"])
        n1, a, n2, c = e["rr"]
        if a and c:
            rr = relative_risk(a, n1, c, n2)
            ci = rr.confidence_interval(confidence_level=0.95)
            assert s["detractor_rr"] == pytest.approx(rr.relative_risk)
            assert (s["detractor_rr_low"], s["detractor_rr_high"]) == pytest.approx(
                (ci.low, ci.high)
            )
            assert s["detractor_rr_reason"] is None
        else:
            assert s["detractor_rr_reason"]
        # the NPS reports' interval (Tango's score interval) of the hand-counted answers
        promoters, passives, detractors = e["nps_counts"]
        _, low, high = raw_nps_interval(promoters, passives, detractors, 0.95, "score")
        assert (s["nps_low"], s["nps_high"]) == pytest.approx((low, high), abs=1e-9)
    # sorted by the difference from the rest, largest first
    diffs = [s["diff"] for s in scan["segments"]]
    assert diffs == sorted(diffs, reverse=True)


async def test_a_trait_and_the_csm_are_dimensions_and_a_csm_sees_own_accounts(
    client: Any,
) -> None:
    accounts = make_book(11)
    await load(accounts)
    by_region = (await get_scan(client, "dimension=trait:region&sort=accounts")).json()
    expected = expected_segments(accounts, "region")
    assert {s["key"]: s["churned"] for s in by_region["segments"]} == {
        k: e["churned"] for k, e in expected.items()
    }
    counts = [s["accounts"] for s in by_region["segments"]]
    assert counts == sorted(counts, reverse=True)
    by_csm = (await get_scan(client, "dimension=csm")).json()
    assert {s["key"] for s in by_csm["segments"]} == {"ann@example.com", "bob@example.com"}
    own = await get_scan(client, "dimension=csm", Role.csm, "ann@example.com")
    assert own.status_code == 200, own.text
    (segment,) = own.json()["segments"]
    assert segment["key"] == "ann@example.com"
    assert segment["compare_reason"] == "no accounts outside the segment"
    assert segment["p_value"] is None and segment["significant"] is False


async def test_csv_has_a_row_per_segment(client: Any) -> None:
    await load(make_book())
    answer = await get_scan(client, "dimension=plan&format=csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["key"] for r in rows) == sorted(PLANS)
    assert all(float(r["q_value"]) >= float(r["p_value"]) for r in rows)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dimension=colour", "dimension"),
        ("dimension=trait:bad name", "dimension"),
        ("window_days=0", "window_days"),
        ("confidence=2", "confidence"),
        ("q=0", "q"),
        ("sort=nps", "sort"),
        ("from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"),
    ],
)
async def test_bad_input_names_the_field(client: Any, query: str, field: str) -> None:
    answer = await get_scan(client, query)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"][0]["field"] == field


async def test_no_churn_anywhere_gives_nulls_with_reasons_never_inf(client: Any) -> None:
    accounts = [{**a, "churn_at": None} for a in make_book()]
    await load(accounts)
    answer = await get_scan(client, "dimension=plan")
    assert answer.status_code == 200
    assert "inf" not in answer.text.lower() and "nan" not in answer.text.lower()
    for s in answer.json()["segments"]:
        assert s["detractor_rr"] is None
        assert s["detractor_rr_reason"] == "no churn among detractors or other accounts"
        assert s["p_value"] == 1.0


# --- saas_churn.csv by company size band ---------------------------------------------------


async def test_saas_churn_by_company_size_matches_independent_counting(client: Any) -> None:
    results = await import_saas_churn(Importer(), SAAS_CHURN.read_bytes(), "2025-01-01")
    assert all(r.ok for r in results)
    answer = await get_scan(client, "dimension=company_size&window_days=3650&sort=key")
    assert answer.status_code == 200, answer.text
    scan = answer.json()
    bands: dict[str, list[tuple[int, bool]]] = {}
    with SAAS_CHURN.open(newline="") as handle:
        for row in csv.DictReader(handle):
            bands.setdefault(row["company_size"], []).append(
                (int(row["csat_score"]), float(row["churned"]) == 1.0)
            )
    total_n = sum(len(b) for b in bands.values())
    total_k = sum(c for b in bands.values() for _, c in b)
    got = {s["key"]: s for s in scan["segments"]}
    assert [s["key"] for s in scan["segments"]] == sorted(bands)
    p_values = {}
    for band, members in bands.items():
        s = got[band]
        n, k = len(members), sum(c for _, c in members)
        assert (s["accounts"], s["churned"]) == (n, k)
        assert (s["rate_low"], s["rate_high"]) == pytest.approx(wilson(k, n), abs=1e-9)
        table = [[k, n - k], [total_k - k, total_n - n - (total_k - k)]]
        p_values[band] = stats.fisher_exact(table).pvalue
        assert s["p_value"] == pytest.approx(p_values[band], rel=1e-9)
        scores = [score for score, _ in members]
        nps = 100 * (sum(x >= 9 for x in scores) - sum(x <= 6 for x in scores)) / n
        assert s["nps"] == pytest.approx(nps)
        detractors = [c for score, c in members if score <= 6]
        assert s["detractor_share"] == pytest.approx(len(detractors) / n)
    names = list(p_values)
    for name, q in zip(names, bh([p_values[n] for n in names]), strict=True):
        assert got[name]["q_value"] == pytest.approx(q, rel=1e-9)
    assert scan["overall"]["accounts"] == total_n and scan["overall"]["churned"] == total_k
