"""`/nps themes`, the themes rising this week, the daily job and the `feedback themes` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.commands import answer, themes_answer
from feedback.accounts.models import CSM
from feedback.kernel.principal import Principal, Role
from feedback.responses.models import Response
from feedback.settings import get_settings
from feedback.themes.assign import assign_new_comments, daily_theme_job
from feedback.themes.build import build_themes
from feedback.themes.members import all_themes
from feedback.themes.models import ThemedComment, ThemeMember
from feedback.themes.reports import rising_themes
from feedback.worker import JOBS
from tests.api.themes.comments import BILLING, responses_csv
from tests.support.factories import import_csv

MANAGER = Principal(role=Role.manager, actor="boss@example.com", source="slack")
# the comment set is answered in January to June 2025
JULY = datetime(2025, 7, 1, tzinfo=UTC)


async def test_nps_themes_lists_the_themes_with_their_nps(comments: None) -> None:
    await build_themes()
    title, blocks = await themes_answer(MANAGER, now=JULY)
    text = json.dumps(blocks, ensure_ascii=False)
    assert title == "Comment themes, last 12 months"
    for theme in [t for t in await all_themes() if t.status == "active"][:3]:
        assert theme.shown_label in text
    boss = await CSM.select(CSM.id, CSM.email).where(CSM.email == "boss@example.com").first()
    assert boss is not None
    _, help_blocks = await answer(boss, "help", get_settings())
    assert "/nps themes" in json.dumps(help_blocks)


async def test_a_theme_mentioned_more_this_week_is_rising(comments: None) -> None:
    await build_themes()
    now = JULY + timedelta(days=60)
    fresh = responses_csv([(BILLING[:4], [2])], start=500).replace("2025-", "2099-")
    assert (await import_csv("responses", fresh)).ok
    this_week = now - timedelta(days=2)
    await Response.update({Response.answered_at: this_week}).where(
        Response.idempotency_key.like("import:r50%")
    )
    assert await assign_new_comments(now) == 4
    rising = await rising_themes(MANAGER, now)
    assert rising and "invoice" in rising[0].label
    assert (rising[0].this_week, rising[0].weekly_before) == (4, 0)


async def test_the_daily_job_themes_new_comments_once_a_day(comments: None) -> None:
    assert "comment_themes" in JOBS
    await build_themes()
    fresh = responses_csv([(["The invoice is wrong, billing please fix"], [3])], start=900)
    assert (await import_csv("responses", fresh)).ok
    now = datetime(2026, 1, 1, 3, tzinfo=UTC)
    assert await daily_theme_job(now) == 1
    again = responses_csv([(["Another invoice problem with billing"], [3])], start=901)
    assert (await import_csv("responses", again)).ok
    assert await daily_theme_job(now + timedelta(hours=5)) == 0  # not yet a day
    assert await daily_theme_job(now + timedelta(hours=25)) == 1
    new = await Response.select(Response.id).where(Response.idempotency_key == "import:r901")
    placed = await ThemeMember.select().where(ThemeMember.response == new[0]["id"])
    assert placed, "a billing comment joins a theme without a rebuild"
    assert await ThemedComment.count() == 62
