"""The segment explorer pages through groups by user and account, the largest first."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import as_role

USERS = 130  # more than a page of 100


@pytest.fixture
async def many_users() -> None:
    await book()
    # user n{i} answers i % 4 + 1 times, all in Initech (b1); u1 answers six times in Acme
    rows = [f"u1-{k},a1,u1,{6 + k % 5},2025-0{1 + k}-10T10:00:00Z" for k in range(6)]
    for i in range(USERS):
        rows += [f"n{i}-{k},b1,n{i:03d},{i % 11},2025-02-1{k}T10:00:00Z" for k in range(i % 4 + 1)]
    header = "response_id,account_id,user_id,score,answered_at\n"
    result = await import_csv("responses", header + "\n".join(rows) + "\n")
    assert result.ok, result.errors


def shown_keys(page: str) -> list[str]:
    """The group names in the explorer's table, in order."""
    section = page.split("<h2>NPS by", 1)[1]
    table = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a></th>', table)


async def test_users_come_a_page_at_a_time_the_largest_first(client: Any, many_users: None) -> None:
    await as_role(client, Role.analyst)
    first = await client.get("/reports/segments?dimension=user")
    assert first.status_code == 200
    keys = shown_keys(first.text)
    assert len(keys) == 100 and keys[0] == "u1"  # six answers: the largest group
    assert "1 to 100 of 131 user groups (most answers first)" in first.text
    assert 'rel="prev"' not in first.text
    following = re.search(r'<a href="([^"]+)" rel="next">Next', first.text)
    assert following is not None
    second = await client.get(html.unescape(following.group(1)))
    assert "101 to 131 of 131 user groups" in second.text
    rest = shown_keys(second.text)
    assert len(rest) == 31 and not set(rest) & set(keys)
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    # the one-answer users are the last page's
    assert all(int(name[1:]) % 4 == 0 for name in rest[-20:])


async def test_the_order_can_be_chosen(client: Any, many_users: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=user&sort=key")
    keys = shown_keys(page.text)
    assert keys[:3] == ["n000", "n001", "n002"] and len(keys) == 100
    assert '<option value="key" selected>' in page.text
    bad = await client.get("/reports/segments?dimension=user&sort=size")
    assert bad.status_code == 422 and "sort" in bad.text
    bad = await client.get("/reports/segments?dimension=user&offset=-5")
    assert bad.status_code == 422 and "offset" in bad.text


async def test_small_groupings_show_every_group_without_a_pager(
    client: Any, many_users: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=plan")
    assert shown_keys(page.text) == ["free", "premium"]
    assert 'class="pager"' not in page.text.split("<h2>Trend")[0]
