"""The segment explorer takes a comment theme: the comments and promoters it lists are those
in the theme, chosen from a dropdown of the active themes; its NPS figures stay those of
every answer of the selection, and the page says so."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.kernel.principal import Role
from feedback.responses.models import Response
from feedback.themes.build import build_themes
from feedback.themes.curate import create_keyword_theme
from feedback.themes.members import all_themes
from feedback.themes.models import ThemeMember
from tests.api.themes.comments import BILLING, LOGIN, SPEED, responses_csv
from tests.support.factories import book, import_csv
from tests.support.web import as_role


@pytest.fixture
async def invoices() -> int:
    """Three English topics themed, and a keyword theme on "invoice" (its members are
    known from the words alone); its id."""
    await book()
    groups = [(BILLING, [2, 9]), (SPEED, [7, 10]), (LOGIN, [9, 3])]
    assert (await import_csv("responses", responses_csv(groups))).ok
    await build_themes()
    return (await create_keyword_theme("Invoices", ["invoice"], "en")).id


async def theme_comments(theme: int) -> set[str]:
    members = await ThemeMember.select(ThemeMember.response).where(ThemeMember.theme == theme)
    ids = [m["response"] for m in members]
    rows = await Response.select(Response.comment).where(Response.id.is_in(ids))
    return {r["comment"] for r in rows}


def section(page: str, heading: str) -> str:
    return page.split(f"<h2>{heading}", 1)[1].split("</section>", 1)[0]


def comments_in(html: str) -> set[str]:
    return set(re.findall(r'<td class="comment">([^<]*)</td>', html))


def kpis(page: str) -> str:
    return page.split('<div class="kpis">', 1)[1].split("</section>", 1)[0]


async def test_the_comments_listed_are_those_in_the_theme(client: Any, invoices: int) -> None:
    await as_role(client, Role.analyst)
    expected = await theme_comments(invoices)
    assert expected and all("invoice" in c.lower() for c in expected)
    # Acme (premium) holds about half of the answers: fewer than a page of 20 in the theme
    query = "/reports/segments?dimension=plan&segment=premium"
    everything = await client.get(query)
    themed = await client.get(f"{query}&theme={invoices}")
    assert themed.status_code == 200, themed.text
    acme = await account_comments("a1")
    assert acme - expected and 0 < len(acme & expected) < 20  # a real filter, one page
    assert comments_in(section(themed.text, "Comments")) == acme & expected
    promoters = comments_in(section(themed.text, "Promoters"))
    assert promoters and promoters <= expected
    # the NPS figures are of every answer of the selection, and the page says so
    assert kpis(themed.text) == kpis(everything.text)
    assert "the NPS figures, the scan and the trend count every answer" in themed.text
    assert "<strong>Invoices</strong>" in themed.text
    assert "in theme Invoices" in themed.text
    # the explorer's links keep the theme
    assert f"theme={invoices}" in section(themed.text, "Comments").split("</p>", 1)[0]


async def account_comments(external_id: str) -> set[str]:
    account = await Account.select(Account.id).where(Account.external_id == external_id).first()
    rows = await Response.select(Response.comment).where(Response.account == account["id"])
    return {r["comment"] for r in rows}


async def test_the_theme_is_a_dropdown_of_the_active_themes(client: Any, invoices: int) -> None:
    await as_role(client, Role.manager)
    page = await client.get(f"/reports/segments?theme={invoices}")
    assert page.status_code == 200, page.text
    dropdown = page.text.split('<select name="theme">', 1)[1].split("</select>", 1)[0]
    offered = set(re.findall(r'<option value="(\d+)"', dropdown))
    active = {str(t.id) for t in await all_themes() if t.status == "active"}
    assert offered == active and str(invoices) in offered
    assert f'<option value="{invoices}" selected>Invoices</option>' in dropdown
    plain = await client.get("/reports/segments")
    assert "count every answer" not in plain.text  # no theme, no note


async def test_a_theme_that_is_not_a_number_is_named(client: Any, invoices: int) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?theme=billing")
    assert page.status_code == 422
    assert "<strong>theme</strong>" in page.text


async def test_a_csm_sees_their_own_answers_in_the_theme(client: Any, invoices: int) -> None:
    await as_role(client, Role.csm, "bob@example.com")
    page = await client.get(f"/reports/segments?theme={invoices}")
    assert page.status_code == 200, page.text
    initech = await account_comments("b1")
    expected = initech & await theme_comments(invoices)
    assert 0 < len(expected) < 20
    assert comments_in(section(page.text, "Comments")) == expected
