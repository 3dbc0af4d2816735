"""The one definition of promoter, passive and detractor, in Python and in SQL.

The thresholds are `analytics.nps`'s; SQL statements spell a category with these fragments,
never with their own numbers."""

from __future__ import annotations

from analytics.nps import DETRACTOR_MAX, PASSIVE_MIN, PROMOTER_MIN, Category, category

__all__ = [
    "DETRACTOR_MAX",
    "PASSIVE_MIN",
    "PROMOTER_MIN",
    "Category",
    "category",
    "detractor_count_sql",
    "is_detractor_sql",
    "is_promoter_sql",
    "promoter_count_sql",
]


def is_promoter_sql(score: str = "score") -> str:
    """A condition on the score column `score`: the answer is a promoter's."""
    return f"{score} >= {PROMOTER_MIN}"


def is_detractor_sql(score: str = "score") -> str:
    """A condition on the score column `score`: the answer is a detractor's."""
    return f"{score} <= {DETRACTOR_MAX}"


def promoter_count_sql(score: str = "score", where: str | None = None) -> str:
    """An aggregate counting promoters (among the rows meeting `where`, when given)."""
    condition = is_promoter_sql(score) if where is None else f"{where} AND {is_promoter_sql(score)}"
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def detractor_count_sql(score: str = "score", where: str | None = None) -> str:
    """An aggregate counting detractors (among the rows meeting `where`, when given)."""
    condition = (
        is_detractor_sql(score) if where is None else f"{where} AND {is_detractor_sql(score)}"
    )
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"
