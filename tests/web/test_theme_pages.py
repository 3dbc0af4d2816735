"""/reports/themes and /admin/themes: the report, the CSRF-protected curation forms."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedback.kernel.principal import Role
from feedback.themes.build import build_themes
from feedback.themes.members import all_themes
from tests.api.themes.comments import BILLING, JA_BILLING, JA_SPEED, LOGIN, SPEED, responses_csv
from tests.support.factories import book, import_csv
from tests.support.web import as_role, csrf_token, signed_in_admin


@pytest.fixture
async def themed() -> None:
    await book()
    groups = [
        (BILLING, [2, 3]),
        (SPEED, [7, 8]),
        (LOGIN, [9, 10]),
        (JA_BILLING, [3]),
        (JA_SPEED, [9]),
    ]
    assert (await import_csv("responses", responses_csv(groups))).ok
    await build_themes()


async def test_the_report_lists_each_theme_linking_to_its_comments(
    client: Any, themed: None
) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/reports/themes")
    assert page.status_code == 200, page.text
    assert "What are customers talking about, and does it matter?" in page.text
    shown = [t for t in await all_themes() if t.status == "active"]
    for theme in shown:
        assert f'href="/reports/comments?theme={theme.id}&amp;has_comment=yes"' in page.text
    assert "<script>" not in page.text and 'style="' not in page.text
    japanese = await client.get("/reports/themes?language=ja")
    assert japanese.status_code == 200
    assert "請求" in japanese.text or "遅い" in japanese.text
    csv = await client.get("/reports/themes/download.csv?language=ja")
    assert csv.status_code == 200 and csv.text.startswith("theme_id,label")


async def test_a_bad_language_is_the_page_with_the_field_named(client: Any, themed: None) -> None:
    await as_role(client, Role.manager)
    page = await client.get("/reports/themes?language=fr")
    assert page.status_code == 422
    assert "<strong>language</strong>" in page.text


async def test_without_themes_the_page_says_what_to_do(client: Any) -> None:
    await signed_in_admin(client)
    page = await client.get("/reports/themes")
    assert page.status_code == 200
    assert 'href="/admin/themes"' in page.text and "No themes yet" in page.text


async def test_only_admins_open_the_admin_page(client: Any, themed: None) -> None:
    await as_role(client, Role.analyst)
    assert (await client.get("/admin/themes")).status_code == 403


async def test_an_admin_renames_merges_and_adds_a_keyword_theme(client: Any, themed: None) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/themes")
    assert page.status_code == 200
    token = await csrf_token(client, "/admin/themes")
    first, second = [t for t in await all_themes() if t.language == "en"][:2]
    renamed = await client.post(
        f"/admin/themes/{first.id}/rename", data={"label": "Invoices", "_csrf_token": token}
    )
    assert renamed.status_code == 303
    merged = await client.post(
        "/admin/themes/merge",
        data={"theme": str(second.id), "into": str(first.id), "_csrf_token": token},
    )
    assert merged.status_code == 303
    made = await client.post(
        "/admin/themes/keyword",
        data={"label": "Tax", "keywords": "tax, vat", "_csrf_token": token},
    )
    assert made.status_code == 303
    themes = {t.id: t for t in await all_themes()}
    assert themes[first.id].shown_label == "Invoices"
    assert (themes[second.id].status, themes[second.id].merged_into) == ("merged", first.id)
    assert any(t.source == "keyword" and t.keywords == ["tax", "vat"] for t in themes.values())
    after = await client.get("/admin/themes?saved=merge")
    assert "Invoices" in after.text and f"merged into #{first.id}" in after.text


async def test_refused_curation_is_the_page_with_the_message(client: Any, themed: None) -> None:
    await signed_in_admin(client)
    token = await csrf_token(client, "/admin/themes")
    empty = await client.post(
        "/admin/themes/keyword", data={"label": "Tax", "keywords": "", "_csrf_token": token}
    )
    assert empty.status_code == 422
    assert re.search(r"<strong>keywords</strong>", empty.text)
    no_target = await client.post(
        "/admin/themes/merge", data={"theme": "1", "into": "", "_csrf_token": token}
    )
    assert no_target.status_code == 422 and "<strong>into</strong>" in no_target.text
    no_token = await client.post("/admin/themes/keyword", data={"label": "x", "keywords": "y"})
    assert no_token.status_code == 403


async def test_the_comments_explorer_filters_by_theme(client: Any, themed: None) -> None:
    """The report's links land on the comments page showing that theme's answers only, with
    the theme chosen in its dropdown; a theme that is not a number is named."""
    await as_role(client, Role.analyst)
    theme = next(t for t in await all_themes() if t.status == "active")
    page = await client.get(f"/reports/comments?theme={theme.id}&has_comment=yes")
    assert page.status_code == 200, page.text
    assert f'<option value="{theme.id}" selected>' in page.text
    everything = await client.get("/reports/comments?has_comment=yes")
    shown = page.text.count('class="comment"')
    assert 0 < shown < everything.text.count('class="comment"')
    bad = await client.get("/reports/comments?theme=billing")
    assert bad.status_code == 422 and "theme" in bad.text


async def test_a_merged_themes_old_link_shows_the_theme_it_went_into(
    client: Any, themed: None
) -> None:
    from feedback.themes.curate import merge_themes

    await as_role(client, Role.analyst)
    first, second = [t for t in await all_themes() if t.status == "active"][:2]
    await merge_themes(second.id, [first.id])
    old = await client.get(f"/reports/comments?theme={first.id}&has_comment=yes")
    new = await client.get(f"/reports/comments?theme={second.id}&has_comment=yes")
    assert old.status_code == new.status_code == 200
    shown = old.text.count('class="comment"')
    assert shown > 0 and shown == new.text.count('class="comment"')
