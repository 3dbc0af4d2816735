"""Which answers belong to which theme: placing comments with a stored model and the keyword
themes, following merges, letting hand-made themes win, and writing the rows.

Shared by the full rebuild (build.py), the daily job (assign.py) and curation (curate.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from analytics.themes import Language, ThemeModel, keyword_theme_hits, tokens
from feedback.themes import queries
from feedback.themes.models import StoredThemeModel, Theme, ThemeSource, ThemeStatus

LANGUAGES: tuple[Language, ...] = ("en", "ja")

# (response id, theme id, strength, source): one theme_member row
MemberRow = tuple[int, int, float, str]


@dataclass(frozen=True, slots=True)
class ThemeRecord:
    """A theme row as the services use it."""

    id: int
    language: Language
    source: str
    label: str
    custom_label: str | None
    keyphrases: list[str]
    terms: dict[str, float]
    keywords: list[str]
    model_index: int | None
    pinned: bool
    status: str
    merged_into: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def shown_label(self) -> str:
        """The admin's label when there is one, else the learned one."""
        return self.custom_label or self.label


def _json(value: Any, empty: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value or "null") or empty
    return value if value is not None else empty


def record(row: Mapping[str, Any]) -> ThemeRecord:
    return ThemeRecord(
        id=int(row["id"]),
        language=cast(Language, row["language"]),
        source=row["source"],
        label=row["label"],
        custom_label=row["custom_label"],
        keyphrases=list(_json(row["keyphrases"], [])),
        terms={str(k): float(v) for k, v in _json(row["terms"], {}).items()},
        keywords=list(_json(row["keywords"], [])),
        model_index=row["model_index"],
        pinned=bool(row["pinned"]),
        status=row["status"],
        merged_into=row["merged_into"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def all_themes() -> list[ThemeRecord]:
    rows = await Theme.select().order_by(Theme.id)
    return [record(row) for row in rows]


async def stored_model(language: Language) -> ThemeModel | None:
    row = (
        await StoredThemeModel.select(StoredThemeModel.model)
        .where(StoredThemeModel.language == language)
        .first()
    )
    if row is None:
        return None
    return ThemeModel.from_dict(json.loads(row["model"]))


def resolve(theme_id: int, by_id: Mapping[int, ThemeRecord]) -> int | None:
    """The theme an answer of `theme_id` is shown under: a merged theme's target (and its
    target's, ...); None for a retired theme or a broken chain."""
    seen: set[int] = set()
    current: int | None = theme_id
    while current is not None and current not in seen:
        seen.add(current)
        theme = by_id.get(current)
        if theme is None:
            return None
        if theme.status != ThemeStatus.merged.value:
            return None if theme.status == ThemeStatus.retired.value else theme.id
        current = theme.merged_into
    return None


def keyword_words(theme: ThemeRecord) -> set[str]:
    return {word for keyword in theme.keywords for word in tokens(keyword, theme.language)}


def rivals_of(keyword_theme: ThemeRecord, themes: Iterable[ThemeRecord]) -> set[int]:
    """The learned themes on the keyword theme's words (one of its keywords is a word of
    their keyphrases): its answers leave them, so the hand-made theme wins the topic."""
    words = keyword_words(keyword_theme)
    by_id = {t.id: t for t in themes}
    rivals: set[int] = set()
    for theme in by_id.values():
        if theme.source != ThemeSource.learned.value or theme.language != keyword_theme.language:
            continue
        phrase_words = {w for phrase in theme.keyphrases for w in tokens(phrase, theme.language)}
        target = resolve(theme.id, by_id)
        if words & phrase_words and target is not None and target != keyword_theme.id:
            rivals.add(target)
    return rivals


def place_comments(
    ids: Sequence[int],
    texts: Sequence[str],
    language: Language,
    model: ThemeModel | None,
    themes: Sequence[ThemeRecord],
    memberships: Sequence[Sequence[tuple[int, float]]] | None = None,
) -> list[MemberRow]:
    """The theme_member rows of comments in one language: the model's themes (or the given
    `memberships` by model index), resolved through merges, and the keyword themes of the
    language, which take their answers from the learned themes on the same words."""
    by_id = {t.id: t for t in themes}
    at_index = {
        t.model_index: t.id
        for t in themes
        if t.language == language
        and t.source == ThemeSource.learned.value
        and t.model_index is not None
    }
    placed: dict[tuple[int, int], tuple[float, str]] = {}
    if model is not None and model.themes and memberships is None:
        memberships = model.assign(texts)
    for response, members in zip(ids, memberships or [[] for _ in ids], strict=True):
        for index, strength in members:
            theme_id = at_index.get(index)
            target = None if theme_id is None else resolve(theme_id, by_id)
            if target is None:
                continue
            key = (response, target)
            if key not in placed or placed[key][0] < strength:
                placed[key] = (strength, ThemeSource.learned.value)
    keyword_themes = [
        t
        for t in themes
        if t.source == ThemeSource.keyword.value
        and t.language == language
        and t.status != ThemeStatus.retired.value
    ]
    for theme in keyword_themes:
        target = resolve(theme.id, by_id)
        if target is None or not theme.keywords:
            continue
        rivals = rivals_of(theme, themes)
        hits = keyword_theme_hits(texts, theme.keywords, language)
        for response, hit in zip(ids, hits, strict=True):
            if not hit:
                continue
            for rival in rivals:
                if placed.get((response, rival), (0.0, ""))[1] == ThemeSource.learned.value:
                    del placed[(response, rival)]
            placed[(response, target)] = (1.0, ThemeSource.keyword.value)
    return [(r, t, s, source) for (r, t), (s, source) in placed.items()]


async def write_members(rows: Sequence[MemberRow]) -> None:
    """Inside the current write transaction."""
    if rows:
        await queries.ADD_MEMBER.run_many(rows)


async def mark_themed(ids: Sequence[int], language: Language, now: datetime) -> None:
    """Inside the current write transaction."""
    if ids:
        await queries.MARK_THEMED.run_many([(i, language, now) for i in ids])
