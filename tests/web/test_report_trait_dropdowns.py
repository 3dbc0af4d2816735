"""Custom traits as dropdowns on the report pages: the trait names in the data (of the
answers the viewer may see; for churn by segment, of their accounts), then a chosen trait's
values; a trait a link names that the data does not hold stays selected."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import as_role

# a1 (Acme) and a2 (Globex) are Ann's, b1 (Initech) is Bob's (tests.support.factories.book)
ACCOUNT_TRAITS = {
    "a1": {"region": "emea", "tier": "gold"},
    "a2": {"region": "amer"},
    # a name no filter can take (a space) is not offered
    "b1": {"region": "EMEA", "bad name": "x"},
}
RESPONSES = (
    "response_id,account_id,user_id,score,comment,answered_at\n"
    "r1,a1,u1,10,Acme loves it,2025-01-15T10:00:00Z\n"
    "r2,a1,u2,3,Acme is unhappy,2025-04-15T10:00:00Z\n"
    "r3,a2,u3,7,Globex is fine,2025-01-20T10:00:00Z\n"
    "r4,b1,u4,2,Initech is unhappy,2025-06-01T10:00:00Z\n"
)


async def set_account_traits(traits: dict[str, dict[str, str]]) -> None:
    for external_id, values in traits.items():
        await Account.update({Account.traits: values}).where(Account.external_id == external_id)


@pytest.fixture
async def data() -> None:
    """Answers carry their account's traits as they were (the import snapshots them); the
    accounts gain a trait afterwards that no answer carries."""
    await book()
    await set_account_traits(ACCOUNT_TRAITS)
    assert (await import_csv("responses", RESPONSES)).ok
    later = {k: {**v, "segment_code": k.upper()} for k, v in ACCOUNT_TRAITS.items()}
    await set_account_traits(later)
    churn = "account_id,noticed_at\na2,2025-07-01\n"
    assert (await import_csv("churn", churn)).ok


def dropdown(page: str, name: str) -> list[tuple[str, str, bool]]:
    """The options of the <select name=...>: (value, text, selected)."""
    found = re.search(rf'<select name="{re.escape(name)}">(.*?)</select>', page, re.DOTALL)
    assert found, f"no dropdown {name}"
    return [
        (value, text.strip(), bool(selected))
        for value, selected, text in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', found.group(1)
        )
    ]


def values(page: str, name: str) -> list[str]:
    return [value for value, _, _ in dropdown(page, name) if value]


def selected(page: str, name: str) -> list[str]:
    return [value for value, _, chosen in dropdown(page, name) if chosen]


def comments_shown(page: str) -> list[str]:
    return re.findall(r'<td class="comment">([^<]*)</td>', page)


async def test_the_segment_explorer_offers_the_trait_names_of_the_answers(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=trait&trait=region")
    assert page.status_code == 200, page.text
    # segment_code came after the answers: no answer carries it
    assert values(page.text, "trait") == ["region", "tier"]
    assert selected(page.text, "trait") == ["region"]
    assert ("region", "region (4 answers)", True) in dropdown(page.text, "trait")
    assert '<input name="trait"' not in page.text
    assert ">emea</a>" in page.text and ">amer</a>" in page.text


async def test_a_csm_is_offered_the_traits_of_their_own_answers_only(
    client: Any, data: None
) -> None:
    await as_role(client, Role.csm, "bob@example.com")
    page = await client.get("/reports/segments")
    assert page.status_code == 200, page.text
    assert values(page.text, "trait") == ["region"]
    assert values(page.text, "trait_filter") == ["region"]
    chosen = await client.get("/reports/comments?trait_filter=region")
    assert values(chosen.text, "trait:region") == ["EMEA"]


async def test_a_linked_trait_that_the_data_lacks_stays_selected(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=trait&trait=colour")
    assert page.status_code == 200, page.text
    assert selected(page.text, "trait") == ["colour"]
    assert "NPS by trait colour" in page.text and "(none)" in page.text
    trend = await client.get("/reports/trends?dimension=trait&trait=colour")
    assert trend.status_code == 200 and selected(trend.text, "trait") == ["colour"]


async def test_without_traits_in_the_data_the_name_is_typed(client: Any) -> None:
    await book()
    assert (await import_csv("responses", RESPONSES)).ok
    await as_role(client, Role.analyst)
    for path in ("/reports/segments", "/reports/trends"):
        page = await client.get(path)
        assert page.status_code == 200, page.text
        assert '<input name="trait" value=""' in page.text, path
        assert '<select name="trait">' not in page.text, path
    comments = await client.get("/reports/comments")
    assert '<select name="trait_filter">' not in comments.text


async def test_a_trait_filter_is_a_name_then_a_dropdown_of_its_values(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments")
    assert values(page.text, "trait_filter") == ["region", "tier"]
    assert '<select name="trait:region">' not in page.text
    # the name chosen: its values appear, spellings differing in case as one, nothing
    # filtered yet
    named = await client.get("/reports/comments?trait_filter=region")
    assert named.status_code == 200, named.text
    assert selected(named.text, "trait_filter") == ["region"]
    assert values(named.text, "trait:region") == ["amer", "EMEA"]
    assert len(comments_shown(named.text)) == 4
    # a value chosen, in whatever case: the answers of those accounts only
    emea = await client.get("/reports/comments?trait_filter=region&trait:region=emea")
    assert emea.status_code == 200, emea.text
    assert selected(emea.text, "trait:region") == ["EMEA"]
    assert sorted(comments_shown(emea.text)) == [
        "Acme is unhappy",
        "Acme loves it",
        "Initech is unhappy",
    ]
    segments = await client.get("/reports/segments?trait_filter=region&trait:region=amer")
    assert segments.status_code == 200, segments.text
    assert selected(segments.text, "trait:region") == ["amer"]
    assert "Globex is fine" in segments.text and "Acme" not in segments.text


async def test_a_linked_trait_filter_is_a_dropdown_of_its_values(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/segments?dimension=role&trait:tier=gold")
    assert page.status_code == 200, page.text
    assert dropdown(page.text, "trait:tier") == [
        ("", "any value", False),
        ("gold", "gold (2)", True),
    ]
    assert "Acme loves it" in page.text and "Initech" not in page.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/reports/comments?trait_filter=bad%20name", "trait_filter"),
        ("/reports/segments?trait_filter=bad%20name", "trait_filter"),
    ],
)
async def test_a_bad_trait_name_is_the_page_with_the_field_named(
    client: Any, data: None, path: str, field: str
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get(path)
    assert page.status_code == 422
    assert f"<strong>{field}</strong>" in page.text


async def test_trends_offer_the_trait_names_of_the_answers(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/trends?dimension=trait&trait=tier")
    assert page.status_code == 200, page.text
    assert values(page.text, "trait") == ["region", "tier"]
    assert selected(page.text, "trait") == ["tier"]
    failed = await client.get("/reports/trends?dimension=trait")
    assert failed.status_code == 422
    assert values(failed.text, "trait") == ["region", "tier"]  # offered on the error too


async def test_churn_by_segment_offers_the_accounts_traits(client: Any, data: None) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn/segments")
    assert page.status_code == 200, page.text
    options = dropdown(page.text, "dimension")
    traits = [(v, t) for v, t, _ in options if v.startswith("trait:")]
    # the accounts' traits today, segment_code included; counted in accounts
    assert traits == [
        ("trait:region", "Trait region (3 accounts)"),
        ("trait:segment_code", "Trait segment_code (3 accounts)"),
        ("trait:tier", "Trait tier (1 account)"),
    ]
    assert [v for v, _, _ in options][:5] == ["plan", "industry", "company_size", "csm", "manager"]
    by_code = await client.get("/reports/churn/segments?dimension=trait:segment_code")
    assert by_code.status_code == 200, by_code.text
    assert selected(by_code.text, "dimension") == ["trait:segment_code"]
    for code in ("A1", "A2", "B1"):
        assert f'<th scope="row">{code}</th>' in by_code.text
    await as_role(client, Role.csm, "bob@example.com")
    mine = await client.get("/reports/churn/segments")
    assert [v for v, _, _ in dropdown(mine.text, "dimension") if v.startswith("trait:")] == [
        "trait:region",
        "trait:segment_code",
    ]


async def test_churn_by_segment_keeps_a_linked_trait_and_names_a_bad_one(
    client: Any, data: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/churn/segments?dimension=trait:colour")
    assert page.status_code == 200, page.text
    assert selected(page.text, "dimension") == ["trait:colour"]
    bad = await client.get("/reports/churn/segments?dimension=trait:bad%20name")
    assert bad.status_code == 422 and "<strong>dimension</strong>" in bad.text
    assert "trait:region" in [v for v, _, _ in dropdown(bad.text, "dimension")]


async def test_trait_names_are_read_from_the_newest_answers(
    client: Any, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names come from a sample of the newest answers, so a large table costs little:
    with a sample of one, only Initech's latest answer (region, and a bad name) is read."""
    from feedback.reports import choices

    monkeypatch.setattr(choices, "TRAIT_SAMPLE", 1)
    await as_role(client, Role.analyst)
    page = await client.get("/reports/comments")
    assert values(page.text, "trait_filter") == ["region"]
