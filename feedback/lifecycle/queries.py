"""Every SQL statement the data lifecycle runs beyond Piccolo's plain reads and writes.

Statements use Piccolo's `{}` placeholders; builders return SQL text and say which
parameters to bind, in order.
"""

from __future__ import annotations

from feedback.db import Statement

# The CTAs of one account (the parameter): id, trigger. Index: cta `account`.
CTAS_OF_ACCOUNT = Statement("SELECT id, trigger FROM cta WHERE account = {}")


def ctas_by_id_sql(count: int) -> str:
    """`id, trigger` of the CTAs whose ids are the `count` parameters (the primary key)."""
    marks = ", ".join("{}" for _ in range(count))
    return f"SELECT id, trigger FROM cta WHERE id IN ({marks})"  # noqa: S608
