"""The comments explorer: individual answers with their comments, filtered by segment,
category and text. Also the promoters list for advocacy and the per-account/per-user views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from feedback.db import fetch
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.nps import Category
from feedback.kernel.nps import category as category_of
from feedback.kernel.principal import Principal
from feedback.reports.queries import (
    COMMENT_LIKE,
    HAS_COMMENT,
    NO_COMMENT,
    SCORE_BETWEEN,
    SCORE_RANGES,
    add_scope,
    responses_count_sql,
    responses_page_sql,
)
from feedback.reports.services import check_environment, filter_condition
from feedback.surveys.texts import CATEGORIES
from feedback.themes.members import all_themes, resolve
from feedback.themes.queries import IN_THEME


class AnsweredResponse(msgspec.Struct, gc=False):
    """One answer as the explorer lists it: its JSON object (and CSV row) has these keys in
    this order (`COLUMNS`); the segment attributes are those at answer time."""

    answered_at: datetime
    score: int
    category: Category
    comment: str | None
    account_id: str
    account_name: str
    user_id: str | None  # None once the user is erased
    user_email: str | None
    role: str | None
    plan: str | None
    industry: str | None
    company_size: str | None
    csm_email: str | None


# the CSV's columns, in the JSON's order
COLUMNS: tuple[str, ...] = AnsweredResponse.__struct_fields__


class ResponsesPage(msgspec.Struct):
    """A page of answers, newest first, and how many answers meet the filters."""

    total: int
    limit: int
    offset: int
    responses: list[AnsweredResponse]


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def responses_page(
    principal: Principal,
    *,
    category: str | None = None,
    text: str | None = None,
    has_comment: bool | None = None,
    filters: dict[str, str] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    theme: int | None = None,
    environment: str = PRODUCTION,
) -> ResponsesPage:
    """`theme`: only the answers in that comment theme (feedback.themes); `environment`:
    the answers given in it (production by default)."""
    check_environment(environment)
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if category is not None:
        if category not in CATEGORIES:
            raise InputError("category", f"must be one of {', '.join(CATEGORIES)}")
        low, high = SCORE_RANGES[category]
        where.append(SCORE_BETWEEN)
        args += [low, high]
    if text:
        where.append(COMMENT_LIKE)
        args.append(_like_pattern(text[:200]))
    if has_comment is True:
        where.append(HAS_COMMENT)
    elif has_comment is False:
        where.append(NO_COMMENT)
    if theme is not None:
        # a merged theme's old id (a saved link) shows the theme it was merged into
        theme = resolve(theme, {t.id: t for t in await all_themes()}) or theme
        where.append(IN_THEME)
        args.append(theme)
    for name, value in (filters or {}).items():
        condition, values = filter_condition(name, value)
        where.append(condition)
        args.extend(values)
    add_scope(where, args, principal, date_from, date_to, environment)
    total = await fetch(responses_count_sql(where), *args)
    rows = await fetch(responses_page_sql(where), *args, limit, offset)
    return ResponsesPage(
        total=int(total[0]["n"]),
        limit=limit,
        offset=offset,
        responses=[
            AnsweredResponse(
                answered_at=row["answered_at"],
                score=row["score"],
                category=category_of(int(row["score"])),
                comment=row["comment"],
                account_id=row["account_id"],
                account_name=row["account_name"],
                user_id=row["user_id"],
                user_email=row["user_email"],
                role=row["role"],
                plan=row["plan"],
                industry=row["industry"],
                company_size=row["company_size"],
                csm_email=row["csm_email"],
            )
            for row in rows
        ],
    )
