"""The values each report filter can take, read from the answers the viewer may see, so that
the pages offer dropdowns instead of free text (and the API tells a client what to offer).

Choices are scoped like every report (a CSM sees the values of their own accounts' answers
only; the answers of one environment, production unless asked), counted in answers, and
capped: the most answered values are kept, then sorted by name. Spellings that differ only
in case are one choice, as the filters match them alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from feedback.db import fetch
from feedback.kernel.cache import TTLCache
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports import queries
from feedback.reports.queries import CHOICE_COLUMNS, add_scope
from feedback.reports.services import (
    TRAIT_PREFIX,
    check_environment,
    is_trait,
    report_rows,
    trait_key,
)

DIMENSIONS = (*CHOICE_COLUMNS, "csm", "manager")
MAX_CHOICES = 200

# How long a process shows the pages' dropdowns it counted: a new value, or new answers in
# the counts, appear within this time. Counting them reads every answer in scope (0.5-0.6 s
# at 1,000,000 answers, more than the page's own report), and a person exploring segments
# reloads the page with every choice. The API's choices are always counted afresh.
PAGE_CHOICES_TTL_SECONDS = 60
PageChoices = dict[str, list[tuple[str, str]]]
# per scope (a CSM's own, or everything), environment, dimensions and period: the pages' dropdowns
# (`page_choices`) and a trait's values (`page_filter_choices`); admin changes and tests
# clear it (`forget_configuration`); bounded, as periods come from the viewers
page_choices_cache: TTLCache[PageChoices | Choices] = TTLCache(
    PAGE_CHOICES_TTL_SECONDS, max_entries=256
)


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
    environment: str = PRODUCTION,
) -> Choices:
    """The values of `dimension` (one of DIMENSIONS or `trait:NAME`) among the answers the
    principal may see in the period and environment, with their answers."""
    dimension = check_dimension(dimension)
    check_environment(environment)
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if dimension in ("csm", "manager"):
        add_scope(where, args, principal, date_from, date_to, environment)
        sql = queries.csm_choices_sql(principal, where, manager=dimension == "manager")
    else:
        if is_trait(dimension):
            expression, key_args = trait_key("dimension", dimension)
        else:
            expression, key_args = CHOICE_COLUMNS[dimension], ()
        args.extend(key_args)
        add_scope(where, args, principal, date_from, date_to, environment)
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
    environment: str = PRODUCTION,
) -> PageChoices:
    """Each of `dimensions` (of DIMENSIONS) as the pages' dropdowns take it: (value, label)
    pairs, the label with its answers. One pass over the answers for all of them
    (`choice_counts_sql`), then summed here per dimension, as `filter_choices` would; kept
    for PAGE_CHOICES_TTL_SECONDS per scope, environment and period (`page_choices_cache`)."""
    check_environment(environment)
    wanted = tuple(d for d in dimensions if not (d == "csm" and principal.role is Role.csm))
    found = await page_choices_cache.get(
        (_scope(principal), environment, wanted, date_from, date_to),
        lambda: _count_page_choices(principal, wanted, date_from, date_to, environment),
    )
    assert isinstance(found, dict)
    return {dimension: list(pairs) for dimension, pairs in found.items()}


async def page_filter_choices(
    principal: Principal,
    dimension: str,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    environment: str = PRODUCTION,
) -> Choices:
    """`filter_choices` for a page's dropdown (e.g. a trait's values): kept as
    `page_choices` are, for PAGE_CHOICES_TTL_SECONDS per scope, environment, dimension and
    period."""
    check_environment(environment)
    found = await page_choices_cache.get(
        (_scope(principal), environment, dimension, date_from, date_to),
        lambda: filter_choices(principal, dimension, date_from, date_to, environment=environment),
    )
    assert isinstance(found, Choices)
    return found


def _scope(principal: Principal) -> tuple[bool, int | None]:
    """What add_scope restricts the answers by: a CSM's own accounts, or none."""
    csm = principal.role is Role.csm
    return csm, principal.csm_id if csm else None


async def _count_page_choices(
    principal: Principal,
    wanted: tuple[str, ...],
    date_from: datetime | None,
    date_to: datetime | None,
    environment: str,
) -> PageChoices:
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    add_scope(where, args, principal, date_from, date_to, environment)
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
    out: PageChoices = {}
    for dimension, values in tallies.items():
        kept = sorted(values.values(), key=lambda t: (-t[2], t[0]))[:MAX_CHOICES]
        kept.sort(key=lambda t: (str(t[1]).casefold(), t[0]))
        out[dimension] = [(value, f"{label} ({n:,})") for value, label, n in kept]
    return out


# the newest answers whose traits are read for their names, and the names kept
TRAIT_SAMPLE = 20_000
MAX_TRAIT_NAMES = 100


async def trait_names(
    principal: Principal,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    *,
    accounts: bool = False,
    limit: int = MAX_TRAIT_NAMES,
    environment: str = PRODUCTION,
) -> list[Choice]:
    """The custom trait names a page can offer (`trait:NAME`), sorted by name, each with the
    answers carrying it: those of the answers' snapshots the principal may see in the period
    (what segments, trends and filters read), or with `accounts` those of the accounts'
    own traits (what churn by segment reads), counted in accounts. Answers are those of
    `environment` (production unless asked); accounts belong to none. Only the newest
    TRAIT_SAMPLE answers are read, so a name seen only long ago may be missing: the pages
    still take any name typed or linked. Names a filter cannot take are left out."""
    if accounts:
        csm = principal.role is Role.csm
        args: list[Any] = [principal.csm_id] if csm else []
        rows = await fetch(queries.account_trait_names_sql(csm), *args, limit)
    else:
        check_environment(environment)
        where: list[str] = ["1 = 1"]
        args = []
        add_scope(where, args, principal, date_from, date_to, environment)
        sql = queries.trait_names_sql(principal, where)
        rows = await report_rows(sql, *args, TRAIT_SAMPLE, limit)
    names = [_choice(row) for row in rows if _usable_trait(str(row["value"]))]
    names.sort(key=lambda c: (c.label.casefold(), c.value))
    return names


def _usable_trait(name: str) -> bool:
    try:
        trait_key("trait", TRAIT_PREFIX + name)
    except InputError:
        return False
    return True
