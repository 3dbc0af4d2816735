"""The NPS trends by segment page: one chart with a line per segment, the change table, each
role sees what it may (a CSM their own accounts), bad values come back as the page (422)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import HOSTILE, as_role

# Acme (a1, premium) and Globex (a2, paid) are Ann's, Initech (b1, free) is Bob's
RESPONSES = (
    "response_id,account_id,user_id,score,answered_at\n"
    + "".join(f"p1-{i},a1,u1,{10 if i < 4 else 3},2025-02-0{i + 1}T10:00:00Z\n" for i in range(6))
    + "".join(f"p2-{i},a1,u2,9,2025-05-0{i + 1}T10:00:00Z\n" for i in range(6))
    + "".join(f"g-{i},a2,u3,{i + 3},2025-0{i + 1}-10T10:00:00Z\n" for i in range(6))
    + "".join(f"f-{i},b1,u4,{i % 3},2025-0{i + 1}-12T10:00:00Z\n" for i in range(6))
)


@pytest.fixture
async def data() -> None:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors


SVG = "{http://www.w3.org/2000/svg}"


def chart_of(page: str) -> ET.Element:
    start = page.index(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart line-chart" id="trends-chart"'
    )
    end = page.index("</svg>", start) + len("</svg>")
    return ET.fromstring(page[start:end])  # noqa: S314 - our own output


@pytest.mark.parametrize("role", [Role.admin, Role.manager, Role.analyst])
async def test_the_page_draws_a_line_per_segment_for_roles_that_read_everything(
    client: Any, data: None, role: Role
) -> None:
    await as_role(client, role)
    page = await client.get("/reports/trends?dimension=plan")
    assert page.status_code == 200, page.text
    assert "How is NPS trending by segment?" in page.text
    chart = chart_of(page.text)
    groups = [g for g in chart.iter(SVG + "g") if "series" in (g.get("class") or "").split()]
    assert [g.get("data-series") for g in groups] == ["All", "premium", "free", "paid"]
    assert len(list(chart.iter(SVG + "polygon"))) >= 2  # interval bands
    assert page.text.count('<li class="series-') == 4  # the HTML legend
    assert "2025-Q2 against 2025-Q1" in page.text


async def test_a_csm_sees_only_their_accounts_lines(client: Any, data: None) -> None:
    await as_role(client, Role.csm, "ann@example.com")
    page = await client.get("/reports/trends?dimension=plan")
    assert page.status_code == 200
    labels = [
        g.get("data-series") for g in chart_of(page.text).iter(SVG + "g") if g.get("data-series")
    ]
    assert labels == ["All", "premium", "paid"]
    assert "Your accounts only." in page.text


async def test_top_one_groups_the_rest_as_other_and_the_csv_follows_the_page(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/trends?dimension=plan&top=1")
    assert "Other (2)" in page.text
    answer = await client.get("/reports/trends.csv?dimension=plan&top=1")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["key"] for r in rows} == {"All", "premium", "Other (2)"}


async def test_no_answers_shows_what_to_do(client: Any) -> None:
    await book()
    await as_role(client, Role.admin)
    page = await client.get("/reports/trends")
    assert page.status_code == 200
    assert "No answers in this selection yet" in page.text and "<svg" not in page.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dimension=colour", "dimension"),
        ("dimension=trait", "trait"),
        ("dimension=trait&trait=no%20spaces", "dimension"),
        ("period=week", "period"),
        ("top=0", "top"),
        ("top=x", "top"),
        ("from=yesterday", "from"),
    ],
)
async def test_bad_values_come_back_as_the_page_naming_the_field(
    client: Any, data: None, query: str, field: str
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get(f"/reports/trends?{query}")
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert f"<strong>{field}</strong>" in page.text


async def test_trait_values_are_escaped(client: Any, data: None) -> None:
    from feedback.responses.models import Response

    await Response.update({Response.traits: {"region": HOSTILE}}).where(Response.id > 0)
    await as_role(client, Role.analyst)
    page = await client.get("/reports/trends?dimension=trait&trait=region")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
    chart_of(page.text)  # still well-formed


async def test_the_page_needs_a_signed_in_user(client: Any) -> None:
    answer = await client.get("/reports/trends")
    assert answer.status_code == 302
