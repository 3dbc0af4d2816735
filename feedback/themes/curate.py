"""What admins do to themes: rename, pin, hide, merge, split, and keyword themes made by hand.

Every change survives a rebuild: a label given here is kept beside the learned one, a merged
theme's answers keep going to its target, a split's two themes are pinned, and keyword themes
are never learned over.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from analytics.themes import Language, LearnedTheme, ThemeModel, detect_language, learn_themes
from feedback.db import Statement, write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.themes import queries
from feedback.themes.members import (
    LANGUAGES,
    ThemeRecord,
    all_themes,
    place_comments,
    record,
    rivals_of,
    stored_model,
    write_members,
)
from feedback.themes.models import StoredThemeModel, Theme, ThemeSource, ThemeStatus

MAX_LABEL = 200
MAX_KEYWORDS = 50
MAX_KEYWORD = 100


async def get_theme(theme_id: int) -> ThemeRecord:
    row = await Theme.select().where(Theme.id == theme_id).first()
    if row is None:
        raise NotFound.for_field("theme", f"no theme {theme_id}")
    return record(row)


def _label(value: Any, field: str = "label") -> str:
    if not isinstance(value, str):
        raise InputError(field, "must be text")
    label = " ".join(value.split())
    if not label:
        raise InputError(field, "must not be empty")
    if len(label) > MAX_LABEL:
        raise InputError(field, f"must be at most {MAX_LABEL} characters")
    return label


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(field, "must be true or false")
    return value


async def update_theme(theme_id: int, changes: dict[str, Any]) -> ThemeRecord:
    """`label` (a learned theme's: "" or null gives back the learned label), `pinned`,
    `hidden`."""
    theme = await get_theme(theme_id)
    unknown = set(changes) - {"label", "pinned", "hidden"}
    if unknown:
        raise InputError(sorted(unknown)[0], "not a field; use label, pinned or hidden")
    values: dict[Any, Any] = {Theme.updated_at: utcnow()}
    if "label" in changes:
        value = changes["label"]
        if theme.source == ThemeSource.keyword.value:
            values[Theme.label] = _label(value)
        elif value is None or (isinstance(value, str) and not value.strip()):
            values[Theme.custom_label] = None
        else:
            values[Theme.custom_label] = _label(value)
    if "pinned" in changes:
        values[Theme.pinned] = _flag(changes["pinned"], "pinned")
    if "hidden" in changes:
        hidden = _flag(changes["hidden"], "hidden")
        if theme.status in (ThemeStatus.merged.value, ThemeStatus.retired.value):
            raise Conflict.for_field("hidden", f"the theme is {theme.status}")
        values[Theme.status] = ThemeStatus.hidden.value if hidden else ThemeStatus.active.value
    await Theme.update(values).where(Theme.id == theme_id)
    return await get_theme(theme_id)


async def merge_themes(target_id: int, source_ids: Sequence[int]) -> ThemeRecord:
    """The sources' answers move to the target, and keep going there after rebuilds."""
    if not source_ids:
        raise InputError("themes", "name at least one theme to merge")
    if target_id in source_ids:
        raise InputError("themes", "a theme cannot be merged into itself")
    target = await get_theme(target_id)
    if target.status in (ThemeStatus.merged.value, ThemeStatus.retired.value):
        raise Conflict.for_field("into", f"the target theme is {target.status}")
    sources = [await get_theme(i) for i in dict.fromkeys(source_ids)]
    for source in sources:
        if source.status == ThemeStatus.merged.value:
            raise Conflict.for_field("themes", f"theme {source.id} is merged already")
    now = utcnow()
    async with write_transaction():
        for source in sources:
            await queries.MOVE_MEMBERS.run(target_id, source.id)
            await queries.FORGET_THEME_MEMBERS.run(source.id)
            # themes merged into the source before now go to the target too
            await Theme.update({Theme.merged_into: target_id, Theme.updated_at: now}).where(
                Theme.merged_into == source.id
            )
            await Theme.update(
                {
                    Theme.status: ThemeStatus.merged.value,
                    Theme.merged_into: target_id,
                    Theme.updated_at: now,
                }
            ).where(Theme.id == source.id)
    return await get_theme(target_id)


async def split_theme(theme_id: int, seed: int = 0) -> list[ThemeRecord]:
    """Learn two themes inside one learned theme's production comments; they replace it
    (pinned, so the next rebuild keeps them) and join the stored model of its language. Its
    comments from staging and development keys are placed in the two, never learned from."""
    theme = await get_theme(theme_id)
    if theme.source != ThemeSource.learned.value:
        raise InputError("theme", "only a learned theme can be split")
    if theme.status in (ThemeStatus.merged.value, ThemeStatus.retired.value):
        raise Conflict.for_field("theme", f"the theme is {theme.status}")
    rows = await queries.THEME_COMMENTS.fetch(theme_id)
    learned = [r for r in rows if r["production"]]
    others = [r for r in rows if not r["production"]]
    texts = [r["comment"] for r in learned]
    sub, memberships = await asyncio.to_thread(
        learn_themes, texts, theme.language, max_themes=2, seed=seed
    )
    if len(sub.themes) < 2:
        raise InputError("theme", f"its {len(texts)} comments do not split into two themes")
    if others:
        memberships = [
            *memberships,
            *await asyncio.to_thread(sub.assign, [r["comment"] for r in others]),
        ]
    ids = [int(r["id"]) for r in [*learned, *others]]
    parts = sub.themes[:2]
    model = await stored_model(theme.language)
    base = model or ThemeModel(theme.language, dict(sub.idf), [], sub.threshold)
    idf = {**sub.idf, **base.idf}
    extended = ThemeModel(
        theme.language,
        idf,
        [*base.themes, *(LearnedTheme(p.terms, p.keyphrases, p.label) for p in parts)],
        base.threshold,
    )
    now = utcnow()
    made: list[int] = []
    async with write_transaction():
        for offset, part in enumerate(parts):
            rows_made = await Theme.insert(
                Theme(
                    language=theme.language,
                    source=ThemeSource.learned.value,
                    label=part.label[:MAX_LABEL],
                    keyphrases=part.keyphrases,
                    terms=part.terms,
                    model_index=len(base.themes) + offset,
                    pinned=True,
                    created_at=now,
                    updated_at=now,
                )
            ).returning(Theme.id)
            made.append(int(rows_made[0]["id"]))
        await Theme.update(
            {
                Theme.status: ThemeStatus.retired.value,
                Theme.model_index: None,
                Theme.updated_at: now,
            }
        ).where(Theme.id == theme_id)
        await queries.FORGET_THEME_MEMBERS.run(theme_id)
        await _save_model(extended)
        placed = [
            (response, made[index], strength, ThemeSource.learned.value)
            for response, members in zip(ids, memberships, strict=True)
            for index, strength in members
            if index < 2
        ]
        await write_members(placed)
    return [await get_theme(i) for i in made]


async def _save_model(model: ThemeModel) -> None:
    text = json.dumps(model.to_dict(), ensure_ascii=False, separators=(",", ":"))
    updated = (
        await StoredThemeModel.update({StoredThemeModel.model: text})
        .where(StoredThemeModel.language == model.language)
        .returning(StoredThemeModel.id)
    )
    if not updated:
        await StoredThemeModel.insert(
            StoredThemeModel(language=model.language, model=text, comments=0, built_at=utcnow())
        )


def _keywords(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InputError("keywords", "must be a list of at least one keyword")
    if len(value) > MAX_KEYWORDS:
        raise InputError("keywords", f"at most {MAX_KEYWORDS} keywords")
    words: list[str] = []
    for i, keyword in enumerate(value):
        if not isinstance(keyword, str) or not keyword.strip():
            raise InputError(f"keywords[{i}]", "must be non-empty text")
        if len(keyword) > MAX_KEYWORD:
            raise InputError(f"keywords[{i}]", f"must be at most {MAX_KEYWORD} characters")
        words.append(" ".join(keyword.split()))
    return list(dict.fromkeys(words))


async def create_keyword_theme(label: Any, keywords: Any, language: Any = None) -> ThemeRecord:
    """A hand-made theme: the comments (in its language) holding any of the keywords. It
    takes its answers from the learned themes on the same words."""
    name = _label(label)
    words = _keywords(keywords)
    if language is None or language == "":
        chosen: Language = detect_language(" ".join(words))
    elif language in LANGUAGES:
        chosen = language
    else:
        raise InputError("language", f"must be one of {', '.join(LANGUAGES)}")
    now = utcnow()
    made = await Theme.insert(
        Theme(
            language=chosen,
            source=ThemeSource.keyword.value,
            label=name,
            keywords=words,
            created_at=now,
            updated_at=now,
        )
    ).returning(Theme.id)
    theme_id = int(made[0]["id"])
    await place_keyword_theme(theme_id)
    return await get_theme(theme_id)


async def place_keyword_theme(theme_id: int) -> int:
    """A keyword theme's members among every themed comment of its language; the number."""
    theme = await get_theme(theme_id)
    themes = await all_themes()
    rows = await queries.LANGUAGE_COMMENTS.fetch(theme.language)
    ids = [int(r["id"]) for r in rows]
    texts = [r["comment"] for r in rows]
    only = [t for t in themes if t.source != ThemeSource.keyword.value or t.id == theme_id]
    placed = [
        row for row in place_comments(ids, texts, theme.language, None, only) if row[3] == "keyword"
    ]
    rivals = sorted(rivals_of(theme, themes))
    async with write_transaction():
        await queries.FORGET_THEME_MEMBERS.run(theme_id)
        await write_members(placed)
        if rivals:
            await Statement(queries.forget_rivals_sql(len(rivals))).run(*rivals, theme_id)
    return len(placed)


async def delete_keyword_theme(theme_id: int) -> None:
    """Only keyword themes are deleted (learned ones are retired by rebuilds, or hidden);
    themes merged into it become themes of their own again."""
    theme = await get_theme(theme_id)
    if theme.source != ThemeSource.keyword.value:
        raise InputError("theme", "only a keyword theme can be deleted; hide a learned theme")
    async with write_transaction():
        await Theme.update(
            {
                Theme.status: ThemeStatus.active.value,
                Theme.merged_into: None,
                Theme.updated_at: utcnow(),
            }
        ).where(Theme.merged_into == theme_id)
        await Theme.delete().where(Theme.id == theme_id)
