"""Comment themes API: the themes with their answers, curation by admins (rename, pin, hide,
merge, split, keyword themes) and the rebuild. The report per theme is
`GET /api/v1/reports/themes` (feedback/reports/views.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.kernel.environments import parse_environment
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.themes import curate
from feedback.themes.assign import assign_new_comments
from feedback.themes.build import build_themes, summary
from feedback.themes.members import LANGUAGES, ThemeRecord, all_themes
from feedback.themes.reports import answers_per_theme

MAX_BODY = 64 * 1024


def theme_dict(theme: ThemeRecord, answers: int | None = None) -> dict[str, Any]:
    """A theme as the API shows it: `label` is the admin's when given, `learned_label` the
    one made of its keyphrases."""
    return {
        "id": theme.id,
        "label": theme.shown_label,
        "learned_label": theme.label if theme.source == "learned" else None,
        "language": theme.language,
        "source": theme.source,
        "keyphrases": theme.keyphrases,
        "keywords": theme.keywords,
        "pinned": theme.pinned,
        "status": theme.status,
        "merged_into": theme.merged_into,
        "answers": answers,
        "created_at": theme.created_at,
        "updated_at": theme.updated_at,
    }


async def json_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("body", "invalid JSON") from None
    if not isinstance(payload, dict):
        raise InputError("body", "must be a JSON object")
    return payload


def _ids(value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise InputError(field, "must be a list of theme ids")
    for i, item in enumerate(value):
        if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item < 2**31:
            raise InputError(f"{field}[{i}]", "must be a theme id")
    return list(value)


async def _with_answers(principal: Principal, theme: ThemeRecord) -> dict[str, Any]:
    counts = await answers_per_theme(principal)
    return theme_dict(theme, counts.get(theme.id, 0))


class ThemeController(Controller):
    path = "/api/v1/themes"
    tags = ["themes"]
    dependencies = {"principal": Provide(provide_principal)}
    request_max_body_size = MAX_BODY

    @get("/", summary="Comment themes with their number of answers", **access(*ALL_ROLES))
    async def list_themes(
        self,
        principal: CurrentPrincipal,
        language: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Learned and keyword themes, the most answers first. `language`: en or ja;
        `status`: active (default: active and hidden), hidden, merged, retired or all.
        `answers` counts the answers in each theme (a CSM's: their own accounts') given on
        keys of `environment` (production, the default, staging or development). Themes
        are learned from production comments only; another environment's comments are
        counted in the themes that model placed them in."""
        chosen = parse_environment(environment)
        if language is not None and language not in LANGUAGES:
            raise InputError("language", f"must be one of {', '.join(LANGUAGES)}")
        statuses = {
            None: ("active", "hidden"),
            "all": ("active", "hidden", "merged", "retired"),
        }.get(status, (status,))
        if not set(statuses) <= {"active", "hidden", "merged", "retired"}:
            raise InputError("status", "must be active, hidden, merged, retired or all")
        counts = await answers_per_theme(principal, chosen)
        themes = [
            theme_dict(t, counts.get(t.id, 0))
            for t in await all_themes()
            if t.status in statuses and (language is None or t.language == language)
        ]
        themes.sort(key=lambda t: (-t["answers"], t["id"]))
        return {"environment": chosen, "themes": themes}

    @get("/{theme_id:int}", summary="One theme", **access(*ALL_ROLES))
    async def get_theme(self, principal: CurrentPrincipal, theme_id: FromPath[int]) -> dict:
        return await _with_answers(principal, await curate.get_theme(theme_id))

    @patch("/{theme_id:int}", summary="Rename, pin or hide a theme", **access(Role.admin))
    async def update_theme(
        self,
        principal: CurrentPrincipal,
        request: Request[Any, Any, Any],
        theme_id: FromPath[int],
    ) -> dict[str, Any]:
        """Body: any of `label` (text; "" or null gives a learned theme back its learned
        label), `pinned` (a pinned theme stays through rebuilds), `hidden` (left out of the
        lists and reports, still assigned). A label and a pin survive rebuilds."""
        theme = await curate.update_theme(theme_id, await json_body(request))
        return await _with_answers(principal, theme)

    @post("/merge", summary="Merge themes into one", status_code=200, **access(Role.admin))
    async def merge(
        self, principal: CurrentPrincipal, request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """Body: `into` (the theme that stays) and `themes` (ids merged into it). Their
        answers move to `into`, and keep going there after rebuilds."""
        body = await json_body(request)
        into = body.get("into")
        if not isinstance(into, int) or isinstance(into, bool) or not 1 <= into < 2**31:
            raise InputError("into", "must be a theme id")
        theme = await curate.merge_themes(into, _ids(body.get("themes"), "themes"))
        return await _with_answers(principal, theme)

    @post(
        "/{theme_id:int}/split",
        summary="Split a learned theme in two",
        status_code=200,
        **access(Role.admin),
    )
    async def split(self, principal: CurrentPrincipal, theme_id: FromPath[int]) -> dict:
        """Two themes are learned inside the theme's comments and replace it (it is
        retired); both are pinned so the next rebuild keeps them. 422 when its comments do
        not split in two."""
        made = await curate.split_theme(theme_id)
        counts = await answers_per_theme(principal)
        return {"themes": [theme_dict(t, counts.get(t.id, 0)) for t in made]}

    @post("/keyword", summary="Make a keyword theme", status_code=201, **access(Role.admin))
    async def keyword_theme(
        self, principal: CurrentPrincipal, request: Request[Any, Any, Any]
    ) -> dict[str, Any]:
        """Body: `label`, `keywords` (1-50; English: whole words, plurals found; Japanese:
        as written), `language` (en or ja; default: the keywords'). Its comments are those of
        its language holding any keyword; they leave the learned themes on the same words
        (hand-made themes win)."""
        body = await json_body(request)
        theme = await curate.create_keyword_theme(
            body.get("label"), body.get("keywords"), body.get("language")
        )
        return await _with_answers(principal, theme)

    @delete("/{theme_id:int}", summary="Delete a keyword theme", **access(Role.admin))
    async def delete_theme(self, theme_id: FromPath[int]) -> None:
        """Keyword themes only (a learned theme can be hidden); themes merged into it stand
        alone again from the next rebuild."""
        await curate.delete_keyword_theme(theme_id)

    @post(
        "/build",
        summary="Rebuild the themes from every comment",
        status_code=200,
        **access(Role.admin),
    )
    async def build(
        self,
        language: FromQuery[str | None] = None,
        max_themes: Annotated[int, QueryParameter(ge=2, le=50)] = 15,
    ) -> dict[str, Any]:
        """Learns the themes of `language` (en or ja; default both) again from every
        comment and places every comment; ids, labels, pins and merges of the themes that
        are the same stay. Runs before answering: about a minute per 100,000 comments.
        The worker assigns new comments daily without a rebuild (`feedback themes build`
        runs it from the command line)."""
        builds = await build_themes([language] if language else None, max_themes=max_themes)
        assigned = await assign_new_comments()
        return {"languages": summary(builds), "assigned_after": assigned}
