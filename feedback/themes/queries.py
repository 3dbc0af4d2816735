"""Every SQL statement the themes run: the comments to theme, memberships in bulk, and the
theme reports' aggregates (and the builders of those assembled at run time).

Statements use Piccolo's `{}` placeholders. Indexes: `theme_member_response_theme` (unique
response, theme), `theme_member_theme_response` (theme, response), `themed_comment` unique
`response`, `response_account_answered_at`, `churn_event_account_noticed_at`.
"""

from __future__ import annotations

from collections.abc import Sequence

from feedback.db import Statement
from feedback.kernel.nps import detractor_count_sql, promoter_count_sql

# an answer with a comment (a blank or erased one is none)
HAS_COMMENT = "r.comment IS NOT NULL AND r.comment <> ''"

# ------------------------------------------------------------------------ the comments

# `id, comment, production` (1 for an answer given on a production key: the themes learn
# from those only, and place the others) of every answer with a comment, by id (for a full
# rebuild; streamed).
ALL_COMMENTS = f"""
SELECT r.id, r.comment, CASE WHEN r.environment = 'production' THEN 1 ELSE 0 END AS production
FROM response r WHERE {HAS_COMMENT} ORDER BY r.id"""  # noqa: S608 - a constant condition

# `id, comment` of answers with a comment the themes have not seen, by id, at most the
# first parameter (the daily job; unique themed_comment.response).
UNTHEMED_COMMENTS = Statement(
    f"""
SELECT r.id, r.comment FROM response r
LEFT JOIN themed_comment tc ON tc.response = r.id
WHERE tc.id IS NULL AND {HAS_COMMENT}
ORDER BY r.id
LIMIT {{}}"""  # noqa: S608 - a constant condition
)

# `id, comment, production` (as in ALL_COMMENTS) of the answers in one theme (the
# parameter), by id (index theme_member_theme_response).
THEME_COMMENTS = Statement(
    f"""
SELECT r.id, r.comment, CASE WHEN r.environment = 'production' THEN 1 ELSE 0 END AS production
FROM theme_member tm JOIN response r ON r.id = tm.response
WHERE tm.theme = {{}} AND {HAS_COMMENT}
ORDER BY r.id"""  # noqa: S608 - a constant condition
)

# `id, comment` of the answers with a comment in one language (the parameter), by id (for a
# keyword theme's first members).
LANGUAGE_COMMENTS = Statement(
    f"""
SELECT r.id, r.comment FROM themed_comment tc JOIN response r ON r.id = tc.response
WHERE tc.language = {{}} AND {HAS_COMMENT}
ORDER BY r.id"""  # noqa: S608 - a constant condition
)

# Nothing; records that a comment was themed, in its language (many rows: run_many).
# Parameters: response, language, themed_at.
MARK_THEMED = Statement(
    "INSERT INTO themed_comment (response, language, themed_at) VALUES ({}, {}, {}) "
    "ON CONFLICT (response) DO UPDATE SET language = excluded.language, "
    "themed_at = excluded.themed_at"
)

# ------------------------------------------------------------------------ memberships

# Nothing; an answer belongs to a theme (many rows: run_many); the same pair again keeps the
# stronger of the two and, when either is a keyword's, says keyword. Parameters: response,
# theme, strength, source.
ADD_MEMBER = Statement(
    """
INSERT INTO theme_member (response, theme, strength, source) VALUES ({}, {}, {}, {})
ON CONFLICT (response, theme) DO UPDATE SET
    strength = MAX(theme_member.strength, excluded.strength),
    source = MIN(theme_member.source, excluded.source)""",
    postgres="""
INSERT INTO theme_member (response, theme, strength, source) VALUES ({}, {}, {}, {})
ON CONFLICT (response, theme) DO UPDATE SET
    strength = GREATEST(theme_member.strength, excluded.strength),
    source = LEAST(theme_member.source, excluded.source)""",
)

# Nothing; forgets every membership of the comments in one language (the parameter), before
# a rebuild writes them again.
FORGET_MEMBERS_OF_LANGUAGE = Statement(
    """
DELETE FROM theme_member
WHERE response IN (SELECT response FROM themed_comment WHERE language = {})"""
)

# Nothing; forgets the memberships of one theme (the parameter).
FORGET_THEME_MEMBERS = Statement("DELETE FROM theme_member WHERE theme = {}")

# Nothing; moves one theme's memberships (the first parameter) to another (the second),
# keeping the stronger where an answer is in both, then forgets the first's.
MOVE_MEMBERS = Statement(
    """
INSERT INTO theme_member (response, theme, strength, source)
SELECT response, {}, strength, source FROM theme_member WHERE theme = {}
ON CONFLICT (response, theme) DO UPDATE SET
    strength = MAX(theme_member.strength, excluded.strength),
    source = MIN(theme_member.source, excluded.source)""",
    postgres="""
INSERT INTO theme_member (response, theme, strength, source)
SELECT response, {}, strength, source FROM theme_member WHERE theme = {}
ON CONFLICT (response, theme) DO UPDATE SET
    strength = GREATEST(theme_member.strength, excluded.strength),
    source = LEAST(theme_member.source, excluded.source)""",
)


def forget_rivals_sql(rivals: int) -> str:
    """Nothing; a keyword theme wins its answers from learned themes on the same words:
    forgets the learned memberships in `rivals` themes of the answers in the keyword theme.
    Parameters: the keyword theme's id, then the rivals' ids."""
    marks = ", ".join("{}" for _ in range(rivals))
    return f"""
DELETE FROM theme_member
WHERE source = 'learned' AND theme IN ({marks})
  AND response IN (SELECT response FROM theme_member WHERE theme = {{}})"""  # noqa: S608


# `theme, n`: the number of answers in each theme.
MEMBER_COUNTS = Statement("SELECT theme, COUNT(*) AS n FROM theme_member GROUP BY theme")

# ------------------------------------------------------------------------- the reports

_PROMOTERS = promoter_count_sql("r.score")
_DETRACTORS = detractor_count_sql("r.score")


def theme_counts_sql(joins: str, where: Sequence[str], period: str | None = None) -> str:
    """Per theme (`theme`; and `period` when given, an expression over r): responses,
    accounts, promoters, detractors of its answers meeting `where` (over response r and the
    `joins`). The parameters of `where`. Index theme_member_response_theme."""
    keys = "tm.theme" + (f", {period}" if period else "")
    return f"""
SELECT tm.theme AS theme, {period or "NULL"} AS period, COUNT(*) AS responses,
       COUNT(DISTINCT r.account) AS accounts,
       {_PROMOTERS} AS promoters, {_DETRACTORS} AS detractors
FROM theme_member tm
JOIN response r ON r.id = tm.response
{joins}
WHERE {HAS_COMMENT} AND {" AND ".join(where)}
GROUP BY {keys}"""  # noqa: S608 - every interpolated piece is a whitelisted expression


def commented_counts_sql(joins: str, where: Sequence[str], period: str | None = None) -> str:
    """All answers with a comment meeting `where` (per `period` when given): responses,
    promoters, detractors; the rest of a theme is these less the theme's own. The parameters
    of `where`."""
    group = f"GROUP BY {period}" if period else ""
    return f"""
SELECT {period or "NULL"} AS period, COUNT(*) AS responses,
       {_PROMOTERS} AS promoters, {_DETRACTORS} AS detractors
FROM response r
{joins}
WHERE {HAS_COMMENT} AND {" AND ".join(where)}
{group}"""  # noqa: S608 - every interpolated piece is a whitelisted expression


def theme_churn_sql(joins: str, where: Sequence[str]) -> str:
    """Per theme (`theme`, NULL for every commenting account): `accounts` whose answers in
    it meet `where` and had no churn notice before the first of them, and `churned`, those
    with a notice since. The parameters of `where`, twice."""
    churn = "SELECT account, MIN(noticed_at) AS churned_at FROM churn_event GROUP BY account"
    counted = """COUNT(*) AS accounts,
       SUM(CASE WHEN ce.churned_at IS NOT NULL THEN 1 ELSE 0 END) AS churned"""
    kept = "ce.churned_at IS NULL OR ce.churned_at >= t.first_at"
    condition = " AND ".join(where)
    return f"""
SELECT t.theme, {counted}
FROM (
    SELECT tm.theme AS theme, r.account AS account, MIN(r.answered_at) AS first_at
    FROM theme_member tm JOIN response r ON r.id = tm.response {joins}
    WHERE {HAS_COMMENT} AND {condition}
    GROUP BY tm.theme, r.account
) t
LEFT JOIN ({churn}) ce ON ce.account = t.account
WHERE {kept}
GROUP BY t.theme
UNION ALL
SELECT NULL AS theme, {counted}
FROM (
    SELECT r.account AS account, MIN(r.answered_at) AS first_at
    FROM response r {joins}
    WHERE {HAS_COMMENT} AND {condition}
    GROUP BY r.account
) t
LEFT JOIN ({churn}) ce ON ce.account = t.account
WHERE {kept}"""  # noqa: S608 - every interpolated piece is a whitelisted expression


# the condition of the comments explorer's theme filter: the answer is in the theme (one
# parameter, the theme's id; index theme_member_response_theme)
IN_THEME = "EXISTS (SELECT 1 FROM theme_member tm WHERE tm.response = r.id AND tm.theme = {})"

# a language filter over response r: the comment was themed in that language (one parameter)
IN_LANGUAGE = "r.id IN (SELECT tc.response FROM themed_comment tc WHERE tc.language = {})"
