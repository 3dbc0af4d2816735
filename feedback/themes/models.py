"""Comment themes: the themes (learned or hand-made), the learned model per language, which
answers belong to which theme, and which comments have been themed.

Multi-column indexes are made in a raw-SQL migration (Piccolo declares none):
`theme_member_response_theme` (unique response, theme: the upsert target, a response's
themes, the cascade from response) and `theme_member_theme_response` (a theme's answers,
for the reports and the comments explorer's theme filter).
"""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.responses.models import Response


class ThemeSource(StrEnum):
    learned = "learned"  # grouped by analytics.themes.learn_themes
    keyword = "keyword"  # made by an admin: a comment belongs when it holds a keyword


class ThemeStatus(StrEnum):
    active = "active"
    hidden = "hidden"  # kept and still assigned, left out of lists and reports
    merged = "merged"  # its answers go to `merged_into`, now and after every rebuild
    retired = "retired"  # a rebuild found it no more (never a pinned theme)


class Theme(Table, tablename="theme"):
    """One theme. A learned theme keeps its id across rebuilds while a new theme's term
    signature matches its own (analytics.themes.match_themes); an admin's label
    (`custom_label`) and pin survive them."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    language = Varchar(length=2)  # en or ja: the language of its comments
    source = Varchar(length=10, default=ThemeSource.learned.value)
    label = Varchar(length=200)  # learned: made of its keyphrases; keyword: the admin's
    custom_label = Varchar(length=200, null=True, default=None)  # an admin's rename
    keyphrases = JSONB(default=[])
    terms = JSONB(default={})  # the term signature, for matching across rebuilds
    keywords = JSONB(default=[])  # a keyword theme's keywords
    # its position in the stored model of its language (theme_model), None when not in it
    model_index = Integer(null=True, default=None)
    pinned = Boolean(default=False)
    status = Varchar(length=10, default=ThemeStatus.active.value)
    merged_into = Integer(null=True, default=None)  # a theme id, with status merged
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class StoredThemeModel(Table, tablename="theme_model"):
    """The learned model of one language (analytics.themes.ThemeModel.to_dict as JSON text),
    which the daily job assigns new comments with."""

    id: Serial
    language = Varchar(length=2, unique=True)
    model = Text()
    comments = Integer(default=0)  # the comments it was learned from
    built_at = Timestamptz(default=TimestamptzNow())


class ThemeMember(Table, tablename="theme_member"):
    """An answer's comment belongs to a theme, with a strength in 0..1 (1 for a keyword)."""

    id: Serial
    # neither indexed alone: the unique (response, theme) and (theme, response) indexes
    response = ForeignKey(references=Response, null=False, on_delete=OnDelete.cascade)
    theme = ForeignKey(references=Theme, null=False, on_delete=OnDelete.cascade)
    strength = Real(default=0.0)
    source = Varchar(length=10, default=ThemeSource.learned.value)


class ThemedComment(Table, tablename="themed_comment"):
    """A comment the themes have seen (in some theme or none), in its detected language: the
    daily job themes the comments without a row."""

    id: Serial
    response = ForeignKey(references=Response, null=False, on_delete=OnDelete.cascade, unique=True)
    language = Varchar(length=2)
    themed_at = Timestamptz(default=TimestamptzNow())
