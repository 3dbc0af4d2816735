"""Themes are learned from production comments only; staging comments are placed in the
themes so learned, and the theme report and the themes API count one environment at a time
(production unless asked)."""

from __future__ import annotations

from typing import Any

from feedback.kernel.principal import Role
from feedback.responses.models import Response
from feedback.themes.assign import assign_new_comments
from feedback.themes.build import build_themes
from feedback.themes.curate import create_keyword_theme
from feedback.themes.members import all_themes
from feedback.themes.models import ThemedComment, ThemeMember
from tests.api.environments_scope.support import two_detractors
from tests.api.themes.comments import BILLING, LOGIN, SPEED, responses_csv
from tests.support.factories import bearer, book, import_csv, token
from tests.support.web import signed_in_admin


async def test_a_rebuild_learns_from_production_comments_only(client: Any) -> None:
    await book()
    result = await import_csv(
        "responses", responses_csv([(BILLING, [2, 3]), (SPEED, [7, 8]), (LOGIN, [9, 10])])
    )
    assert result.ok, result.errors
    # the login complaints came through a staging key
    await Response.update({Response.environment: "staging"}).where(Response.comment.is_in(LOGIN))
    (english,) = await build_themes(["en"])
    assert english.comments == len(BILLING) + len(SPEED)
    words = {w for t in await all_themes() for p in t.keyphrases for w in p.split()}
    assert "invoice" in words and "slow" in words
    assert not {"password", "login"} & words  # nothing learned from staging
    staging = Response.select(Response.id).where(Response.environment == "staging")
    # ... yet every staging comment was read by the model learned
    assert await ThemedComment.count().where(ThemedComment.response.is_in(staging)) == len(LOGIN)


async def test_the_theme_report_and_api_count_one_environment(client: Any) -> None:
    await two_detractors(client)
    await create_keyword_theme("Speed", ["slow"], "en")
    assert await assign_new_comments() == 2
    assert await ThemeMember.count() == 2  # both placed, whatever their environment

    headers = bearer(await token(Role.admin))
    production = await client.get("/api/v1/themes", headers=headers)
    assert production.json()["environment"] == "production"
    assert [t["answers"] for t in production.json()["themes"]] == [1]
    staging = await client.get("/api/v1/themes?environment=staging", headers=headers)
    assert [t["answers"] for t in staging.json()["themes"]] == [1]
    development = await client.get("/api/v1/themes?environment=development", headers=headers)
    assert [t["answers"] for t in development.json()["themes"]] == [0]
    bad = await client.get("/api/v1/themes?environment=prod", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "environment"

    await signed_in_admin(client)
    page = await client.get("/reports/themes")
    assert page.status_code == 200, page.text
    assert "env-banner" not in page.text
    on_staging = await client.get("/reports/themes?environment=staging")
    assert on_staging.status_code == 200, on_staging.text
    assert "env-banner" in on_staging.text and "Staging data." in on_staging.text
    assert "learned from production comments only" in on_staging.text
    assert 'href="/reports/themes"' in on_staging.text  # back to production
    assert "environment=staging" in on_staging.text  # links carry it
    wrong = await client.get("/reports/themes?environment=qa")
    assert wrong.status_code == 422 and "environment" in wrong.text
