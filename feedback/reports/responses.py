"""The comments explorer: individual answers with their comments, filtered by segment,
category and text. Also the promoters list for advocacy and the per-account/per-user views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedback.db import fetch
from feedback.kernel.errors import InputError
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
from feedback.reports.services import filter_condition
from feedback.surveys.texts import CATEGORIES

COLUMNS = (
    "answered_at",
    "score",
    "category",
    "comment",
    "account_id",
    "account_name",
    "user_id",
    "user_email",
    "role",
    "plan",
    "industry",
    "company_size",
    "csm_email",
)


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_responses(
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
) -> dict[str, Any]:
    where, args = ["1 = 1"], []
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
    for name, value in (filters or {}).items():
        condition, values = filter_condition(name, value)
        where.append(condition)
        args.extend(values)
    add_scope(where, args, principal, date_from, date_to)
    total = await fetch(responses_count_sql(where), *args)
    rows = await fetch(responses_page_sql(where), *args, limit, offset)
    for row in rows:
        row["category"] = category_of(int(row["score"]))
    return {
        "total": int(total[0]["n"]),
        "limit": limit,
        "offset": offset,
        "responses": [{c: row.get(c) for c in COLUMNS} for row in rows],
    }
