"""The values each report filter can take, read from the answers the viewer may see, so that
the pages offer dropdowns instead of free text (and the API tells a client what to offer).

Choices are scoped like every report (a CSM sees the values of their own accounts' answers
only), counted in answers, and capped: the most answered values are kept, then sorted by
name. Spellings that differ only in case are one choice, as the filters match them alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from feedback.db import fetch
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports import queries
from feedback.reports.queries import CHOICE_COLUMNS, add_scope
from feedback.reports.services import TRAIT_PREFIX, is_trait, report_rows, trait_key

DIMENSIONS = (*CHOICE_COLUMNS, "csm", "manager")
MAX_CHOICES = 200


class Choice(msgspec.Struct, gc=False):
    """One value a filter can take: `value` goes in the query string, `label` is what a
    person reads (a CSM's or manager's name; the value itself otherwise)."""

    value: str
    label: str
    responses: int


class Choices(msgspec.Struct):
    """A filter's choices, sorted by label; `truncated` when more values exist than
    `limit` (the most answered were kept)."""

    dimension: str
    limit: int
    truncated: bool
    choices: list[Choice]


def check_dimension(dimension: str | None) -> str:
    if not dimension:
        raise InputError("dimension", _dimension_help("is required"))
    if is_trait(dimension):
        trait_key("dimension", dimension)
    elif dimension not in DIMENSIONS:
        raise InputError("dimension", _dimension_help(f"unknown: {dimension!r}"))
    return dimension


def _dimension_help(problem: str) -> str:
    return f"{problem}; use one of {', '.join(DIMENSIONS)} or {TRAIT_PREFIX}NAME"


async def filter_choices(
    principal: Principal,
    dimension: str | None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    limit: int = MAX_CHOICES,
) -> Choices:
    """The values of `dimension` (one of DIMENSIONS or `trait:NAME`) among the answers the
    principal may see in the period, with their answers."""
    dimension = check_dimension(dimension)
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if dimension in ("csm", "manager"):
        add_scope(where, args, principal, date_from, date_to)
        sql = queries.csm_choices_sql(principal, where, manager=dimension == "manager")
    else:
        if is_trait(dimension):
            expression, key_args = trait_key("dimension", dimension)
        else:
            expression, key_args = CHOICE_COLUMNS[dimension], ()
        args.extend(key_args)
        add_scope(where, args, principal, date_from, date_to)
        sql = queries.value_choices_sql(principal, expression, where)
    rows = await report_rows(sql, *args, limit + 1)
    choices = [_choice(row) for row in rows[:limit]]
    choices.sort(key=lambda c: (c.label.casefold(), c.value))
    return Choices(dimension, limit, len(rows) > limit, choices)


def _choice(row: Any) -> Choice:
    value = str(row["value"])
    label = row.get("label") or value
    return Choice(value, str(label), int(row["n"]))


async def page_choices(
    principal: Principal,
    dimensions: Iterable[str],
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """Each of `dimensions` (of DIMENSIONS) as the pages' dropdowns take it: (value, label)
    pairs, the label with its answers. One pass over the answers for all of them
    (`choice_counts_sql`), then summed here per dimension, as `filter_choices` would."""
    wanted = [d for d in dimensions if not (d == "csm" and principal.role is Role.csm)]
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    add_scope(where, args, principal, date_from, date_to)
    rows = await report_rows(queries.choice_counts_sql(principal, where), *args)
    people = {row["id"]: row for row in await fetch(queries.CSM_PEOPLE)}
    # per dimension: the folded value -> [spelling, label, answers]
    tallies: dict[str, dict[str, list[Any]]] = {d: {} for d in wanted}
    for row in rows:
        person = people.get(row["csm"])
        for dimension in wanted:
            if dimension == "csm":
                value, label = (person["email"], person["name"]) if person else (None, None)
            elif dimension == "manager":
                value, label = (
                    (person["manager_email"], person["manager_name"]) if person else (None, None)
                )
            else:
                value = row[dimension]
                label = value
            if not value:
                continue
            tally = tallies[dimension].setdefault(value.lower(), [value, label, 0])
            if dimension in CHOICE_COLUMNS and value < tally[0]:
                tally[0] = tally[1] = value  # the first spelling in sort order, as SQL's MIN
            tally[2] += int(row["n"])
    out: dict[str, list[tuple[str, str]]] = {}
    for dimension, values in tallies.items():
        kept = sorted(values.values(), key=lambda t: (-t[2], t[0]))[:MAX_CHOICES]
        kept.sort(key=lambda t: (str(t[1]).casefold(), t[0]))
        out[dimension] = [(value, f"{label} ({n:,})") for value, label, n in kept]
    return out
