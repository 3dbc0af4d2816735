"""The Insights page's answers: NPS this quarter against the last, with the comparison the
executive report would make, and the accounts to protect; scoped for a CSM."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from analytics.compare import compare_nps
from feedback.auth.services import csm_id_for_email
from feedback.kernel.principal import Principal, Role
from feedback.reports.insights import (
    accounts_to_protect,
    churn_link,
    previous_quarter,
    quarter_nps,
    quarter_of,
    segments_that_moved,
)
from tests.support.factories import book, import_csv
from tests.support.web import as_role

ADMIN = Principal(role=Role.admin, actor="test", source="api")
NOW = datetime(2025, 5, 15, 12, tzinfo=UTC)
# Q1 2025: 10, 9, 7, 10 (P 3, Pa 1, D 0); Q2 to 15 May: 6, 10, 9, 3 (P 2, D 2); after: ignored
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,9,,2025-02-15T10:00:00Z\n"
    "r6,a2,u3,7,,2025-01-20T10:00:00Z\n"
    "r8,b1,u4,10,,2025-03-01T10:00:00Z\n"
    "r3,a1,u1,6,Too slow,2025-04-15T10:00:00Z\n"
    "r4,a1,u2,10,,2025-04-20T10:00:00Z\n"
    "r5,a2,u3,3,,2025-05-01T10:00:00Z\n"
    "r7,b1,u4,9,,2025-05-10T10:00:00Z\n"
    "r9,b1,u4,2,,2025-06-01T10:00:00Z\n"
)


@pytest.fixture
async def data() -> None:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors


def test_quarters() -> None:
    q = quarter_of(datetime(2025, 12, 31, 23, tzinfo=UTC))
    assert (q.label, q.start.month, q.end.year, q.end.month) == ("2025-Q4", 10, 2026, 1)
    assert previous_quarter(quarter_of(datetime(2025, 2, 1, tzinfo=UTC))).label == "2024-Q4"
    assert previous_quarter(q).label == "2025-Q3"


async def test_nps_this_quarter_against_the_last(data: None) -> None:
    result = await quarter_nps(ADMIN, now=NOW)
    assert (result.quarter, result.previous_quarter) == ("2025-Q2", "2025-Q1")
    assert result.current is not None and result.previous is not None
    current = (result.current.promoters, result.current.passives, result.current.detractors)
    previous = (result.previous.promoters, result.previous.passives, result.previous.detractors)
    assert current == (2, 0, 2)
    assert previous == (3, 1, 0)
    expected = compare_nps(current, previous)
    assert result.change is not None
    assert result.change.diff == pytest.approx(expected.diff)
    assert result.change.p_value == pytest.approx(expected.p_value)


async def test_a_csm_sees_their_own_accounts_only(data: None) -> None:
    csm_id = await csm_id_for_email("bob@example.com", Role.csm)
    bob = Principal(role=Role.csm, actor="bob", source="api", csm_id=csm_id)
    result = await quarter_nps(bob, now=NOW)
    assert result.current is not None
    assert result.current.responses == 1  # r7 only (Initech is Bob's)
    assert result.previous is not None and result.previous.responses == 1


async def test_no_answers_gives_no_change(data: None) -> None:
    result = await quarter_nps(ADMIN, now=datetime(2027, 1, 5, tzinfo=UTC))
    assert result.current is None and result.change is None


async def test_accounts_to_protect_are_high_arr_low_nps(data: None) -> None:
    july = datetime(2025, 7, 1, tzinfo=UTC)
    # median ARR is 9,000 (at or above it is high): Acme (+50) and Globex (7, 3: -50)
    protect, total = await accounts_to_protect(ADMIN, now=july)
    assert (total, [(a.account_id, a.nps) for a in protect]) == (1, [("a2", -50.0)])
    unhappy = "".join(f"x{i},a1,u1,1,,2025-06-0{i}T10:00:00Z\n" for i in range(1, 5))
    result = await import_csv(
        "responses", "response_id,account_id,user_id,score,comment,answered_at\n" + unhappy
    )
    assert result.ok, result.errors
    protect, total = await accounts_to_protect(ADMIN, now=july)
    # Acme now: 3 promoters, 5 detractors in 8 answers -> -25: protect, first by ARR
    assert total == 2
    assert [(a.account_id, a.nps) for a in protect] == [("a1", -25.0), ("a2", -50.0)]


async def test_the_page_renders_for_every_role(client: Any, data: None) -> None:
    for role in (Role.admin, Role.manager, Role.analyst, Role.csm):
        await as_role(client, role, "ann@example.com" if role is Role.csm else None)
        page = await client.get("/insights")
        assert page.status_code == 200, page.text
        assert "What changed this quarter" in page.text


async def test_segments_that_moved_are_the_significant_changes(data: None) -> None:
    happy = "".join(f"h{i},a1,u1,10,,2025-02-{i + 1:02d}T10:00:00Z\n" for i in range(20))
    unhappy = "".join(f"s{i},a1,u2,1,,2025-04-{i + 1:02d}T10:00:00Z\n" for i in range(20))
    result = await import_csv(
        "responses", "response_id,account_id,user_id,score,comment,answered_at\n" + happy + unhappy
    )
    assert result.ok, result.errors
    movers = await segments_that_moved(ADMIN, now=NOW)
    plan = [m for m in movers if m.dimension == "plan"]
    # premium (Acme): Q1 22 promoters (r1 10, r2 9 and 20 tens); Q2 so far 1 promoter and
    # 21 detractors (r4 10; r3 6 and 20 ones): the only plan with enough answers to move
    assert [m.segment for m in plan] == ["premium"]
    change = plan[0].change
    expected = compare_nps((1, 0, 21), (22, 0, 0))
    assert change.diff == pytest.approx(expected.diff, abs=0.01)
    assert change.last_period == "2025-Q2" and change.significant
    assert all(m.change.significant for m in movers)


async def test_churn_link_is_detractors_against_the_rest_this_year(data: None) -> None:
    result = await import_csv(
        "churn", "event_id,account_id,kind,noticed_at\ne1,a2,termination_notice,2025-05-01\n"
    )
    assert result.ok, result.errors
    link = await churn_link(ADMIN, now=NOW)
    # by mean score this year: Acme 8.75 (passive), Globex 5 (detractor, churned), Initech
    # 9.5 (promoter): one detractor account that churned against two others that did not
    assert link.since == datetime(2025, 1, 1, tzinfo=UTC)
    risk = link.risk
    assert (risk.exposed_accounts, risk.exposed_churned) == (1, 1)
    assert (risk.reference_accounts, risk.reference_churned) == (2, 0)
    assert risk.relative_risk is None and risk.rr_reason
