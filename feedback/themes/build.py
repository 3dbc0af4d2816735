"""The full rebuild (on demand): learn each language's themes again from every production
comment, keep the ids of the themes that are the same, and place every comment again.

Themes are learned from the comments of production answers only, so that test traffic
never shapes them; the comments given on staging and development keys are placed in the
themes so learned, as a new comment is by the daily job, and the theme report shows them
when asked for that environment (docs/environments.md).

A new theme whose term signature matches an old learned theme's (analytics.themes.
match_themes) keeps that theme's id, its admin-given label, its pin and a merge; new themes
get new ids; old learned themes nothing matched are retired, except pinned ones, which stay
and keep taking comments (their signatures join the stored model).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics.themes import (
    Language,
    LearnedTheme,
    ThemeModel,
    detect_language,
    learn_themes,
    match_themes,
)
from feedback.db import stream, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.themes import queries
from feedback.themes.members import (
    LANGUAGES,
    ThemeRecord,
    all_themes,
    mark_themed,
    place_comments,
    write_members,
)
from feedback.themes.models import StoredThemeModel, Theme, ThemeSource, ThemeStatus

MAX_THEMES = 15


@dataclass(frozen=True, slots=True)
class LanguageBuild:
    """What one language's rebuild did."""

    language: Language
    comments: int  # the production comments learned from
    themes: int  # learned themes in the model, pinned ones that stayed included
    kept: int  # themes that kept their id
    new: int
    retired: int
    seconds: float


def check_languages(languages: Sequence[str] | None) -> list[Language]:
    if not languages:
        return list(LANGUAGES)
    for language in languages:
        if language not in LANGUAGES:
            raise InputError("language", f"must be one of {', '.join(LANGUAGES)}")
    return [language for language in LANGUAGES if language in languages]


@dataclass(slots=True)
class Comments:
    """One language's comments: those of production answers (`ids`, `texts`), which the
    themes learn from, and the others (`other_ids`, `other_texts`: staging and development
    keys), which are only placed in the themes learned."""

    ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    other_ids: list[int] = field(default_factory=list)
    other_texts: list[str] = field(default_factory=list)


async def comments_by_language() -> dict[Language, Comments]:
    """Every comment, grouped by its detected language."""
    grouped: dict[Language, Comments] = defaultdict(Comments)
    async for chunk in stream(queries.ALL_COMMENTS, chunk=5000):
        for row in chunk:
            comments = grouped[detect_language(row["comment"])]
            if row["production"]:
                comments.ids.append(int(row["id"]))
                comments.texts.append(row["comment"])
            else:
                comments.other_ids.append(int(row["id"]))
                comments.other_texts.append(row["comment"])
    return grouped


async def build_themes(
    languages: Sequence[str] | None = None, *, max_themes: int = MAX_THEMES, seed: int = 0
) -> list[LanguageBuild]:
    """Rebuild the themes of `languages` (default: every language)."""
    chosen = check_languages(languages)
    if not 2 <= max_themes <= 50:
        raise InputError("max_themes", "must be between 2 and 50")
    comments = await comments_by_language()
    results = []
    for language in chosen:
        found = comments.get(language, Comments())
        results.append(await _build_language(language, found, max_themes, seed))
    return results


async def _build_language(
    language: Language, comments: Comments, max_themes: int, seed: int
) -> LanguageBuild:
    started = time.perf_counter()
    ids, texts = comments.ids, comments.texts
    model, memberships = await asyncio.to_thread(
        learn_themes, texts, language, max_themes=max_themes, seed=seed
    )
    themes = await all_themes()
    previous = [
        t
        for t in themes
        if t.language == language
        and t.source == ThemeSource.learned.value
        and t.status != ThemeStatus.retired.value
    ]
    matches = match_themes([t.terms for t in previous], [t.terms for t in model.themes])
    matched_previous = set(matches.values())
    staying = [
        t
        for i, t in enumerate(previous)
        if i not in matched_previous and t.pinned and t.status != ThemeStatus.merged.value
    ]
    if staying:
        # pinned themes no new theme matched keep taking comments by their own signature
        extra = [LearnedTheme(t.terms, t.keyphrases, t.label) for t in staying]
        model = ThemeModel(language, model.idf, [*model.themes, *extra], model.threshold)
        memberships = await asyncio.to_thread(model.assign, texts)
    if comments.other_ids:  # placed by the model learned, never learned from
        others = await asyncio.to_thread(model.assign, comments.other_texts)
        ids, texts = [*ids, *comments.other_ids], [*texts, *comments.other_texts]
        memberships = [*memberships, *others]
    now = utcnow()
    kept = new = retired = 0
    async with write_transaction():
        for index, learned in enumerate(model.themes[: len(model.themes) - len(staying)]):
            values: dict[Any, Any] = {
                Theme.label: learned.label[:200],
                Theme.keyphrases: learned.keyphrases,
                Theme.terms: learned.terms,
                Theme.model_index: index,
                Theme.updated_at: now,
            }
            if index in matches:
                await Theme.update(values).where(Theme.id == previous[matches[index]].id)
                kept += 1
            else:
                await Theme.insert(
                    Theme(
                        language=language,
                        source=ThemeSource.learned.value,
                        label=learned.label[:200],
                        keyphrases=learned.keyphrases,
                        terms=learned.terms,
                        model_index=index,
                        created_at=now,
                        updated_at=now,
                    )
                )
                new += 1
        first_extra = len(model.themes) - len(staying)
        for offset, theme in enumerate(staying):
            await Theme.update({Theme.model_index: first_extra + offset}).where(
                Theme.id == theme.id
            )
        for i, theme in enumerate(previous):
            if i in matched_previous or theme in staying:
                continue
            values = {Theme.model_index: None, Theme.updated_at: now}
            if theme.status != ThemeStatus.merged.value:
                values[Theme.status] = ThemeStatus.retired.value
                retired += 1
            await Theme.update(values).where(Theme.id == theme.id)
        await _store_model(model, len(comments.texts))
        await queries.FORGET_MEMBERS_OF_LANGUAGE.run(language)
        await mark_themed(ids, language, now)
        rows = place_comments(ids, texts, language, model, await all_themes(), memberships)
        await write_members(rows)
    return LanguageBuild(
        language=language,
        comments=len(comments.texts),
        themes=len(model.themes),
        kept=kept,
        new=new,
        retired=retired,
        seconds=round(time.perf_counter() - started, 3),
    )


async def _store_model(model: ThemeModel, comments: int) -> None:
    text = json.dumps(model.to_dict(), ensure_ascii=False, separators=(",", ":"))
    await StoredThemeModel.insert(
        StoredThemeModel(language=model.language, model=text, comments=comments, built_at=utcnow())
    ).on_conflict(
        target=StoredThemeModel.language,
        action="DO UPDATE",
        values=[StoredThemeModel.model, StoredThemeModel.comments, StoredThemeModel.built_at],
    )


def summary(builds: Sequence[LanguageBuild]) -> list[dict[str, object]]:
    return [
        {
            "language": b.language,
            "comments": b.comments,
            "themes": b.themes,
            "kept": b.kept,
            "new": b.new,
            "retired": b.retired,
            "seconds": b.seconds,
        }
        for b in builds
    ]


__all__ = ["LanguageBuild", "ThemeRecord", "build_themes", "check_languages", "summary"]
