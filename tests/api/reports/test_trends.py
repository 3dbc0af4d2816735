"""GET /api/v1/reports/trends: the top segments per period, Other and All, and each line's
last period against the one before, checked against counts made here from the answers."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest

from analytics.compare import compare_nps
from feedback.accounts.models import CSM
from feedback.demo import load_demo
from feedback.kernel.principal import Role
from feedback.responses.models import Response
from tests.support.factories import bearer, book, import_csv, token


@pytest.fixture
async def analyst() -> dict[str, str]:
    await load_demo(today=date(2026, 11, 22))
    return bearer(await token(Role.analyst))


def quarter(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"{moment.year}-Q{(moment.month + 2) // 3}"


def slot(score: int) -> int:
    return 0 if score >= 9 else 1 if score >= 7 else 2


async def counts_by(key_of: Any) -> dict[tuple[Any, str], list[int]]:
    """(segment, quarter) -> [promoters, passives, detractors], from the answers themselves."""
    rows = await Response.select(
        Response.plan, Response.csm, Response.answered_at, Response.score
    ).where(Response.environment == "production")  # what the reports count
    cells: dict[tuple[Any, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        cells[(key_of(row), quarter(row["answered_at"]))][slot(row["score"])] += 1
    return cells


def lines(answer: Any) -> dict[tuple[str, Any], dict[str, Any]]:
    return {(s["kind"], s["key"]): s for s in answer.json()["series"]}


async def test_the_top_segments_other_and_all_add_up_to_every_answer(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/trends?dimension=csm&top=3", headers=analyst)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    emails = {c["id"]: c["email"] for c in await CSM.select(CSM.id, CSM.email)}
    cells = await counts_by(lambda r: emails.get(r["csm"]))
    per_csm = Counter[Any]()
    for (csm, _), counts in cells.items():
        per_csm[csm] += sum(counts)
    kinds = [s["kind"] for s in body["series"]]
    assert kinds == ["all", "segment", "segment", "segment", "other"]
    largest = sorted(per_csm, key=lambda k: (-per_csm[k], k is None, k or ""))[:3]
    assert [s["key"] for s in body["series"][1:4]] == largest
    other = body["series"][4]
    assert set(other["members"]) == set(per_csm) - set(largest)
    assert body["total_segments"] == len(per_csm)
    for index, period in enumerate(body["periods"]):
        everyone = [0, 0, 0]
        for (_, q), counts in cells.items():
            if q == period:
                everyone = [a + b for a, b in zip(everyone, counts, strict=True)]
        all_point = body["series"][0]["points"][index]
        assert [all_point["promoters"], all_point["passives"], all_point["detractors"]] == everyone
        shown = sum(s["points"][index]["responses"] for s in body["series"][1:])
        assert shown == all_point["responses"] == sum(everyone)


async def test_each_change_equals_compare_nps_on_counts_made_here(
    client: Any, analyst: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/reports/trends?dimension=plan", headers=analyst)
    body = answer.json()
    previous_q, last_q = body["periods"][-2:]
    cells = await counts_by(lambda r: r["plan"])
    found = lines(answer)
    assert set(found) == {
        ("all", None),
        ("segment", "free"),
        ("segment", "paid"),
        ("segment", "premium"),
    }
    compared = 0
    for plan in ("free", "paid", "premium"):
        change = found[("segment", plan)]["change"]
        assert (change["last_period"], change["previous_period"]) == (last_q, previous_q)
        last, previous = cells[(plan, last_q)], cells[(plan, previous_q)]
        assert change["last_responses"] == sum(last)
        assert change["previous_responses"] == sum(previous)
        if sum(last) < 5 or sum(previous) < 5:
            assert change["diff"] is None and "too few answers" in change["note"]
            continue
        expected = compare_nps(last, previous)
        assert change["diff"] == round(expected.diff, 2)
        assert change["ci_low"] == round(expected.ci_low, 2)
        assert change["ci_high"] == round(expected.ci_high, 2)
        assert change["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
        assert change["p_adjusted"] >= change["p_value"] - 1e-9
        assert change["significant"] == (change["p_adjusted"] <= 0.05)
        compared += 1
    assert compared >= 2


RESPONSES = (
    "response_id,account_id,user_id,score,answered_at\n"
    + "".join(f"q1-{i},a1,u1,{10 if i < 4 else 3},2025-02-0{i + 1}T10:00:00Z\n" for i in range(6))
    + "".join(f"q2-{i},a1,u2,9,2025-05-0{i + 1}T10:00:00Z\n" for i in range(6))
    + "".join(f"b-{i},b1,u4,{i},2025-0{i + 1}-10T10:00:00Z\n" for i in range(3))
    + "r-g,a2,u3,8,2025-04-10T10:00:00Z\n"
)


@pytest.fixture
async def small() -> dict[str, str]:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    return bearer(await token(Role.admin))


async def test_a_period_with_too_few_answers_says_so(client: Any, small: dict[str, str]) -> None:
    answer = await client.get(
        "/api/v1/reports/trends?dimension=plan&period=month&top=3", headers=small
    )
    body = answer.json()
    assert body["periods"] == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    found = lines(answer)
    free = found[("segment", "free")]
    assert [p["responses"] for p in free["points"]] == [1, 1, 1, 0, 0]
    assert free["points"][3]["nps"] is None and free["points"][3]["precision"] == "counts_only"
    assert free["change"]["diff"] is None
    assert free["change"]["note"] == (
        "too few answers in 2025-05 (0, 5 needed); too few answers in 2025-04 (0, 5 needed)"
    )
    premium = found[("segment", "premium")]["points"]
    assert (premium[1]["nps"], premium[4]["nps"]) == (
        pytest.approx(100 * (4 - 2) / 6, abs=0.01),
        100.0,
    )


async def test_a_csm_sees_the_trend_of_their_own_accounts(
    client: Any, small: dict[str, str]
) -> None:
    ann = bearer(await token(Role.csm, "ann@example.com"))
    answer = await client.get("/api/v1/reports/trends?dimension=plan", headers=ann)
    assert answer.status_code == 200, answer.text
    found = lines(answer)
    assert set(found) == {("all", None), ("segment", "premium"), ("segment", "paid")}
    assert found[("all", None)]["responses"] == 13  # Acme's 12 and Globex's 1, not Initech's
    change = found[("segment", "premium")]["change"]
    assert (change["previous_period"], change["last_period"]) == ("2025-Q1", "2025-Q2")
    assert change["diff"] == round(compare_nps((6, 0, 0), (4, 0, 2)).diff, 2)


async def test_csv_has_a_row_per_line_and_period_with_the_change_on_the_last(
    client: Any, small: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/reports/trends?dimension=plan&top=1&format=csv", headers=small
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["kind"], r["key"], r["period"]) for r in rows] == [
        ("all", "All", "2025-Q1"),
        ("all", "All", "2025-Q2"),
        ("segment", "premium", "2025-Q1"),
        ("segment", "premium", "2025-Q2"),
        ("other", "Other (2)", "2025-Q1"),
        ("other", "Other (2)", "2025-Q2"),
    ]
    assert rows[2]["change"] == "" and float(rows[3]["change"]) == round(
        compare_nps((6, 0, 0), (4, 0, 2)).diff, 2
    )
    assert rows[3]["change_significant"] in ("true", "false")


async def test_no_answers_gives_no_lines(client: Any) -> None:
    await book()
    admin = bearer(await token(Role.admin))
    body = (await client.get("/api/v1/reports/trends", headers=admin)).json()
    assert body["periods"] == [] and body["series"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dimension=colour", "dimension"),
        ("dimension=account", "dimension"),
        ("dimension=trait:no%20spaces", "dimension"),
        ("period=week", "period"),
        ("top=0", "top"),
        ("top=11", "top"),
        ("top=many", "top"),
        ("confidence=2", "confidence"),
        ("ci_method=magic", "ci_method"),
        ("from=2025-01-01T00:00:00", "from"),
    ],
)
async def test_bad_parameters_name_the_field(
    client: Any, small: dict[str, str], query: str, field: str
) -> None:
    answer = await client.get(f"/api/v1/reports/trends?{query}", headers=small)
    assert answer.status_code == (400 if query == "top=many" else 422)
    assert answer.json()["detail"][0]["field"] == field


async def test_the_trend_is_documented_and_needs_a_token(client: Any) -> None:
    assert (await client.get("/api/v1/reports/trends")).status_code == 401
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/reports/trends"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"dimension", "period", "from", "to", "top", "format"} <= names
    assert "text/csv" in operation["responses"]["200"]["content"]
