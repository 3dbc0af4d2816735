"""The full rebuild: themes learned per language, ids kept across rebuilds."""

from __future__ import annotations

from analytics.themes import tokens
from feedback.responses.models import Response
from feedback.themes.build import build_themes
from feedback.themes.curate import update_theme
from feedback.themes.members import all_themes
from feedback.themes.models import ThemeMember
from tests.api.themes.comments import JA_BILLING, JA_SPEED


async def members_by_theme() -> dict[int, set[str]]:
    rows = await ThemeMember.select(ThemeMember.theme, ThemeMember.response.idempotency_key)
    grouped: dict[int, set[str]] = {}
    for row in rows:
        grouped.setdefault(row["theme"], set()).add(row["response.idempotency_key"])
    return grouped


async def test_a_build_learns_english_and_japanese_themes(comments: None) -> None:
    builds = {b.language: b for b in await build_themes()}
    assert builds["en"].comments == 36 and builds["ja"].comments == 24
    themes = await all_themes()
    english = [t for t in themes if t.language == "en"]
    # one theme per topic, named by the topic's own words
    for word in ("invoice", "slow", "password"):
        assert [t for t in english if word in " ".join(t.keyphrases).split()], english
    members = await members_by_theme()
    (billing,) = [t for t in english if "invoice" in " ".join(t.keyphrases).split()]
    in_billing = {f"import:r{n}" for n in range(1, 13)}  # the first 12 rows are the billing ones
    assert len(members[billing.id] & in_billing) >= 9
    assert not members[billing.id] - in_billing


async def test_japanese_keyphrases_are_words_not_characters(comments: None) -> None:
    await build_themes(["ja"])
    japanese = [t for t in await all_themes() if t.language == "ja"]
    assert japanese
    phrases = [p for t in japanese for p in t.keyphrases]
    # words of the comments (遅い, 読み込み, 請求書 ...), never single characters
    assert all(len(p.replace(" ", "")) >= 2 for p in phrases), phrases
    assert {"遅い", "請求書"} & set(phrases), phrases
    written = "".join(JA_BILLING + JA_SPEED)
    assert all(p.replace(" ", "") in written or p in written for p in phrases[:2]), phrases


async def test_the_same_data_twice_keeps_every_id_and_membership(comments: None) -> None:
    await build_themes()
    first = {t.id: t.terms for t in await all_themes()}
    members = await members_by_theme()
    builds = await build_themes()
    assert all(b.new == 0 and b.retired == 0 for b in builds)
    assert {t.id for t in await all_themes()} == set(first)
    assert await members_by_theme() == members


async def test_an_admins_label_and_pin_survive_a_rebuild(comments: None) -> None:
    await build_themes(["en"])
    theme = (await all_themes())[0]
    await update_theme(theme.id, {"label": "Invoices", "pinned": True})
    await build_themes(["en"])
    again = {t.id: t for t in await all_themes()}[theme.id]
    assert (again.shown_label, again.pinned, again.status) == ("Invoices", True, "active")


async def test_a_comment_added_to_the_data_keeps_the_themes(comments: None) -> None:
    await build_themes(["en"])
    before = {t.id for t in await all_themes()}
    first = await Response.select(Response.id).first()
    assert first is not None
    await Response.update({Response.comment: "billing invoice wrong"}).where(
        Response.id == first["id"]
    )
    await build_themes(["en"])
    assert {t.id for t in await all_themes() if t.status == "active"} == before
    assert tokens("billing invoice", "en") == ["billing", "invoice"]
