"""What each import kind accepts: columns, aliases, parsers (docs/imports.md mirrors them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from feedback.accounts.models import AccountStatus, ChurnKind, CsmKind
from feedback.imports.parsing import (
    CellError,
    RowError,
    SourceRow,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_email,
    parse_int,
    parse_locale,
    parse_money_cents,
    parse_score,
    parse_text,
)
from feedback.settings import get_settings

MAX_COMMENT_CHARS = 5000


def text(max_length: int) -> Callable[[str], str]:
    return lambda value: parse_text(value, max_length)


def choice(options: Iterable[str]) -> Callable[[str], str]:
    allowed = tuple(options)

    def parse(value: str) -> str:
        normalised = value.strip().lower().replace(" ", "_").replace("-", "_")
        if normalised not in allowed:
            raise CellError(f"must be one of {', '.join(allowed)}, got {value!r}")
        return normalised

    return parse


# an id is addressed in paths and query strings, where no control character is accepted
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def identifier(value: str) -> str:
    text_value = parse_text(value, 200)
    if _CONTROL.search(text_value):
        raise CellError("ids may not contain tabs, line breaks or other control characters")
    return text_value


def meeting_url(value: str) -> str:
    """A booking page's address: http(s) only (it is put in mails and the widget as a link)."""
    url = parse_text(value, 500)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(url):
        raise CellError(f"expected an http(s) address, e.g. https://cal.example.com/alex: {url!r}")
    return url


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Kind:
    name: str
    key: str
    columns: tuple[Column, ...]
    extra_columns_become_traits: bool = False
    by_name: dict[str, Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, Column] = {}
        for column in self.columns:
            index[column.name] = column
            for alias in column.aliases:
                index[alias] = column
        object.__setattr__(self, "by_name", index)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "csms",
            key="email",
            columns=(
                Column("email", parse_email, required=True, help="the CSM's email: the key"),
                Column("name", text(200), required=True),
                Column("slack_user_id", text(32), help="e.g. U012AB3CD"),
                Column("slack_channel", text(80), help="channel id or #name for CTAs"),
                Column(
                    "manager_email",
                    parse_email,
                    aliases=("manager",),
                    help="another CSM (in the database or in this file)",
                ),
                Column("active", parse_bool, help="true/false, default true"),
                Column(
                    "kind",
                    choice(k.value for k in CsmKind),
                    help="dedicated (owns accounts, the default) or pooled (a pool's specialist)",
                ),
                Column(
                    "meeting_url",
                    meeting_url,
                    aliases=("calendar_url", "booking_url"),
                    help="where customers book a meeting, e.g. https://calendly.com/alex",
                ),
            ),
        ),
        Kind(
            "accounts",
            key="external_id",
            extra_columns_become_traits=True,
            columns=(
                Column(
                    "external_id",
                    identifier,
                    required=True,
                    aliases=("account_id", "id"),
                    help="your CRM's account id: the key",
                ),
                Column("name", text(300), required=True, aliases=("account_name",)),
                Column("plan", text(100), help="e.g. free, paid, premium"),
                Column("industry", text(100)),
                Column(
                    "employee_count", lambda v: parse_int(v, 0, 10_000_000), aliases=("employees",)
                ),
                Column(
                    "company_size",
                    text(50),
                    help="a band such as 51-200; derived from employee_count when absent",
                ),
                Column("arr", parse_money_cents, help="annual recurring revenue, e.g. 12000.50"),
                Column("currency", text(3), help="ISO code, default USD"),
                Column(
                    "csm_email",
                    parse_email,
                    aliases=("csm",),
                    help="the owning CSM (must exist: import csms first)",
                ),
                Column("renewal_date", parse_date, help="YYYY-MM-DD"),
                Column("status", choice(s.value for s in AccountStatus)),
                Column("created_at", parse_datetime, help="ISO 8601, when the customer started"),
            ),
        ),
        Kind(
            "users",
            key="external_id",
            extra_columns_become_traits=True,
            columns=(
                Column(
                    "external_id",
                    identifier,
                    required=True,
                    aliases=("user_id", "id"),
                    help="your product's user id: the key",
                ),
                Column(
                    "account_id",
                    identifier,
                    required=True,
                    aliases=("account",),
                    help="the account's external id (must exist)",
                ),
                Column("role", text(100), help="e.g. admin, read-only, recruiter"),
                Column("email", parse_email),
                Column("locale", parse_locale, help="e.g. en, ja-JP"),
                Column("first_seen_at", parse_datetime),
                Column("last_seen_at", parse_datetime),
            ),
        ),
        Kind(
            "churn",
            key="dedupe_key",
            columns=(
                Column("account_id", identifier, required=True, aliases=("account",)),
                Column(
                    "noticed_at",
                    parse_datetime,
                    required=True,
                    aliases=("notice_date",),
                    help="when the termination notice or non-renewal became known",
                ),
                Column(
                    "effective_at",
                    parse_datetime,
                    aliases=("effective_date",),
                    help="when the contract ends",
                ),
                Column(
                    "kind",
                    choice(k.value for k in ChurnKind),
                    aliases=("type",),
                    help="termination_notice (default) or non_renewal",
                ),
                Column("reason", text(2000)),
                Column("event_id", identifier, help="the source's id; the key when present"),
            ),
        ),
        Kind(
            "responses",
            key="idempotency_key",
            columns=(
                Column("account_id", identifier, required=True, aliases=("account",)),
                Column("user_id", identifier, required=True, aliases=("user", "person")),
                Column("score", parse_score, required=True, aliases=("nps", "rating")),
                Column(
                    "answered_at",
                    parse_datetime,
                    required=True,
                    aliases=("timestamp", "created_at", "created", "date", "response_date"),
                ),
                Column("comment", text(MAX_COMMENT_CHARS), aliases=("feedback", "reason")),
                Column(
                    "response_id",
                    identifier,
                    aliases=("id",),
                    help="the source tool's id: re-imports skip it",
                ),
                Column("locale", parse_locale),
                Column("role", text(100), help="snapshot at answer time; default: the user's"),
                Column("plan", text(100), help="snapshot; default: the account's current plan"),
                Column("industry", text(100)),
                Column("company_size", text(50)),
                Column("arr", parse_money_cents),
                Column("csm_email", parse_email),
            ),
        ),
    )
}


@dataclass
class ParsedRows:
    kind: Kind
    columns: list[str]  # canonical names present in the file
    trait_columns: list[str]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invalid_lines: set[int] = field(default_factory=set)
    header_failed: bool = False


def check_header(kind: Kind, header: list[str]) -> tuple[dict[str, str], list[str], list[RowError]]:
    """Map file columns to canonical names; extras become traits or errors."""
    mapping: dict[str, str] = {}
    traits: list[str] = []
    errors: list[RowError] = []
    for name in header:
        column = kind.by_name.get(name)
        if column is None:
            if kind.extra_columns_become_traits:
                traits.append(name)
            else:
                known = ", ".join(c.name for c in kind.columns)
                errors.append(RowError(1, name, f"unknown column; {kind.name} accepts: {known}"))
            continue
        if column.name in mapping.values():
            errors.append(RowError(1, name, f"duplicates column {column.name}"))
            continue
        mapping[name] = column.name
    present = set(mapping.values())
    for column in kind.columns:
        if column.required and column.name not in present:
            errors.append(RowError(1, column.name, "required column is missing"))
    return mapping, traits, errors


# PostgreSQL's text cannot hold a NUL character (SQLite's can): refused on both engines alike
NUL_REFUSED = "contains a NUL character (\\x00), which no text value may hold"


def cell_too_long(limit: int) -> str:
    return f"longer than {limit} characters (FEEDBACK_IMPORT_MAX_CELL_CHARS)"


def parse_rows(
    kind: Kind, header: list[str], rows: Iterable[SourceRow], cell_limit: int | None = None
) -> ParsedRows:
    """Every row checked and parsed; a cell longer than `cell_limit`
    (FEEDBACK_IMPORT_MAX_CELL_CHARS) is an error of its row."""
    limit = get_settings().import_max_cell_chars if cell_limit is None else cell_limit
    mapping, traits, header_errors = check_header(kind, header)
    parsed = ParsedRows(kind=kind, columns=list(mapping.values()), trait_columns=traits)
    parsed.errors.extend(header_errors)
    if header_errors:
        parsed.header_failed = True
        return parsed
    for source in rows:
        values: dict[str, Any] = {}
        row_ok = True
        for file_name, canonical in mapping.items():
            column = kind.by_name[canonical]
            cell = source.values.get(file_name, "")
            if len(cell) > limit:
                parsed.errors.append(RowError(source.line, canonical, cell_too_long(limit)))
                row_ok = False
                continue
            if "\x00" in cell:
                parsed.errors.append(RowError(source.line, canonical, NUL_REFUSED))
                row_ok = False
                continue
            if cell.strip() == "":
                if column.required:
                    parsed.errors.append(
                        RowError(source.line, canonical, "required value is empty")
                    )
                    row_ok = False
                values[canonical] = None
                continue
            try:
                values[canonical] = column.parse(cell)
            except (ValueError, ArithmeticError) as exc:  # CellError, or a parser's own limit
                parsed.errors.append(RowError(source.line, canonical, str(exc)[:200]))
                row_ok = False
        for name in traits:
            cell = source.values.get(name, "")
            if len(cell) > limit:
                parsed.errors.append(RowError(source.line, name, cell_too_long(limit)))
                row_ok = False
            elif "\x00" in cell:
                parsed.errors.append(RowError(source.line, name, NUL_REFUSED))
                row_ok = False
        if traits:
            values["traits"] = {
                name: source.values[name].strip()
                for name in traits
                if source.values.get(name, "").strip() != ""
            }
        if row_ok:
            parsed.rows.append((source.line, values))
        else:
            parsed.invalid_lines.add(source.line)
    return parsed


# --- accounts: the end of observation (issue 17) ------------------------------------------
# appended to the accounts kind above as a new Kind, which rebuilds its index of names
KINDS["accounts"] = Kind(
    KINDS["accounts"].name,
    key=KINDS["accounts"].key,
    extra_columns_become_traits=KINDS["accounts"].extra_columns_become_traits,
    columns=(
        *KINDS["accounts"].columns,
        Column(
            "observed_until",
            parse_datetime,
            help="ISO 8601 or YYYY-MM-DD: when the source stopped observing the account "
            "(churn survival censors it there); empty means observed until now",
        ),
    ),
)
