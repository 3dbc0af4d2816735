"""The comments explorer: individual answers with their comments, filtered by segment,
category and text. Also the promoters list for advocacy and the per-account/per-user views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedback.auth.services import Principal
from feedback.errors import InputError
from feedback.reports.services import add_scope, filter_condition
from feedback.responses.models import Response
from feedback.surveys.texts import CATEGORIES

SCORE_RANGES = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}
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

_FROM = """
FROM response r
JOIN account a ON a.id = r.account
LEFT JOIN end_user u ON u.id = r.end_user
LEFT JOIN csm c ON c.id = r.csm
"""


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
        where.append("r.score BETWEEN {} AND {}")
        args += [low, high]
    if text:
        where.append("LOWER(r.comment) LIKE {} ESCAPE '\\'")
        args.append(_like_pattern(text[:200]))
    if has_comment is True:
        where.append("r.comment IS NOT NULL AND r.comment <> ''")
    elif has_comment is False:
        where.append("(r.comment IS NULL OR r.comment = '')")
    for name, value in (filters or {}).items():
        condition, values = filter_condition(name, value)
        where.append(condition)
        args.extend(values)
    add_scope(where, args, principal, date_from, date_to)
    condition = " AND ".join(where)
    total = await Response.raw(f"SELECT COUNT(*) AS n {_FROM} WHERE {condition}", *args)
    rows = await Response.raw(
        f"""SELECT r.answered_at, r.score, r.comment, a.external_id AS account_id,
                   a.name AS account_name, u.external_id AS user_id, u.email AS user_email,
                   r.role, r.plan, r.industry, r.company_size, c.email AS csm_email
            {_FROM} WHERE {condition}
            ORDER BY r.answered_at DESC, r.id DESC LIMIT {{}} OFFSET {{}}""",
        *args,
        limit,
        offset,
    )
    for row in rows:
        score = int(row["score"])
        row["category"] = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    return {
        "total": int(total[0]["n"]),
        "limit": limit,
        "offset": offset,
        "responses": [{c: row.get(c) for c in COLUMNS} for row in rows],
    }
