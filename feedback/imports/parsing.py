"""Reading CSV and JSON rows, and parsing their cells, with errors that name line and column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from feedback.settings import get_settings

# a single comment may be long, but a cell the size of a file is an attack or a broken quote
MAX_FIELD_CHARS = 1_000_000
csv.field_size_limit(MAX_FIELD_CHARS)


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


class FileError(Exception):
    """The file as a whole cannot be read (encoding, header, structure)."""

    def __init__(self, error: RowError) -> None:
        self.error = error
        super().__init__(str(error))


@dataclass(frozen=True)
class SourceRow:
    line: int
    values: dict[str, str]


def normalise_header(name: str) -> str:
    """'Account ID' -> 'account_id'; letters of any script are kept ('業種' stays)."""
    return re.sub(r"[\W_]+", "_", name.strip().lower()).strip("_")


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def decode(data: bytes) -> str:
    body = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # count line breaks the way the CSV reader does, including old Mac bare \r
        line = len(_LINE_BREAK.findall(body[: exc.start])) + 1
        raise FileError(RowError(line, "", "the file is not UTF-8 text")) from None


def max_columns() -> int:
    return get_settings().import_max_columns


def too_many_columns(count: int, limit: int) -> FileError:
    return FileError(
        RowError(
            1,
            "header",
            f"{count} columns, more than the {limit} an import takes "
            "(FEEDBACK_IMPORT_MAX_COLUMNS); nothing was read past the header",
        )
    )


def read_csv(text: str, column_limit: int | None = None) -> tuple[list[str], Iterator[SourceRow]]:
    """The normalised header and the non-empty rows, each with the line it starts on. A
    header with more than `column_limit` columns (FEEDBACK_IMPORT_MAX_COLUMNS) refuses the
    file before any row is read."""
    limit = max_columns() if column_limit is None else column_limit
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        raw_header = next(reader)
    except StopIteration:
        raise FileError(RowError(1, "", "the file is empty: expected a header row")) from None
    except csv.Error as exc:
        raise FileError(RowError(1, "", f"unreadable header: {exc}")) from None
    if len(raw_header) > limit:
        raise too_many_columns(len(raw_header), limit)
    header = [normalise_header(h) for h in raw_header]
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise FileError(RowError(1, f"#{position}", "empty column name in the header"))
        if name in seen:
            raise FileError(RowError(1, name, "column appears twice in the header"))
        seen.add(name)

    def rows() -> Iterator[SourceRow]:
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileError(RowError(start, "", f"malformed CSV: {exc}")) from None
            line, start = start, reader.line_num + 1
            if not cells or all(c.strip() == "" for c in cells):
                continue
            if len(cells) > len(header):
                raise FileError(
                    RowError(line, "", f"{len(cells)} cells but the header has {len(header)}")
                )
            cells = cells + [""] * (len(header) - len(cells))
            yield SourceRow(line, dict(zip(header, cells, strict=True)))

    return header, rows()


def read_json_rows(
    payload: Any, column_limit: int | None = None
) -> tuple[list[str], Iterator[SourceRow]]:
    """JSON rows: a list of objects, or `{"rows": [...]}`; "line" is the 1-based row number.
    More than `column_limit` distinct fields (FEEDBACK_IMPORT_MAX_COLUMNS) refuse the file."""
    limit = max_columns() if column_limit is None else column_limit
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        payload = payload["rows"]
    if not isinstance(payload, list):
        raise FileError(RowError(0, "rows", 'expected a list of objects or {"rows": [...]}'))
    header: list[str] = []
    seen: set[str] = set()
    rows: list[SourceRow] = []
    for number, item in enumerate(payload, start=1):
        if not isinstance(item, dict):
            raise FileError(RowError(number, "", "each row must be an object"))
        if len(item) > limit:
            raise too_many_columns(len(item), limit)
        values: dict[str, str] = {}
        for key, value in item.items():
            name = normalise_header(str(key))
            if not name:
                raise FileError(RowError(number, str(key), "empty field name"))
            if name in values:
                raise FileError(RowError(number, str(key), f"field appears twice as {name!r}"))
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, float, str)):
                text = str(value)
            else:
                raise FileError(RowError(number, name, "values must be strings or numbers"))
            values[name] = text
            if name not in seen:
                seen.add(name)
                header.append(name)
                if len(header) > limit:
                    raise too_many_columns(len(header), limit)
        rows.append(SourceRow(number, values))
    return header, iter(rows)


class CellError(ValueError):
    pass


def parse_text(value: str, max_length: int) -> str:
    text = value.strip()
    if len(text) > max_length:
        raise CellError(f"longer than {max_length} characters")
    return text


_WHOLE = re.compile(r"[+-]?[0-9]{1,18}(\.0*)?")
_AMOUNT = re.compile(r"[0-9]{1,16}(\.[0-9]{0,2}0*)?")


def parse_int(value: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """Plain digits only: no exponents, so '1e999999' cannot cost seconds of CPU."""
    text = value.strip().replace(",", "").replace("_", "")
    if not _WHOLE.fullmatch(text):
        raise CellError(f"not a whole number: {value[:40]!r}")
    result = int(text.split(".")[0])
    if not minimum <= result <= maximum:
        raise CellError(f"must be between {minimum} and {maximum}, got {result}")
    return result


def parse_money_cents(value: str) -> int:
    """'12000', '12,000.50', '$12000' -> cents, exactly; more than 2 decimals is an error."""
    text = value.strip().lstrip("$€£¥").replace(",", "").replace("_", "").strip()
    if not _AMOUNT.fullmatch(text):
        if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text):
            raise CellError(f"more than two decimal places: {value[:40]!r}")
        raise CellError(f"not a non-negative amount of money: {value[:40]!r}")
    whole, _, fraction = text.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])  # trailing zeros past 2 are exact


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CellError(f"not a date (expected YYYY-MM-DD): {value!r}") from None


def parse_datetime(value: str) -> datetime:
    """ISO 8601; a date alone means midnight UTC and a time without offset is taken as UTC."""
    text = value.strip()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        moment = datetime.combine(parse_date(text), time(0), tzinfo=UTC)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
        except ValueError:
            raise CellError(f"not a timestamp (expected ISO 8601): {value[:60]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 2200:
        raise CellError(f"year out of range: {value!r}")
    return moment.astimezone(UTC)


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "y", "1.0"):
        return True
    if lowered in ("0", "false", "no", "n", "0.0"):
        return False
    raise CellError(f"expected true or false: {value!r}")


def parse_email(value: str) -> str:
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise CellError(f"not an email address: {value!r}")
    return email


def parse_score(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,2}(\.0+)?", text):
        raise CellError(f"score must be a whole number from 0 to 10, got {value!r}")
    score = int(float(text))
    if score > 10:
        raise CellError(f"score must be a whole number from 0 to 10, got {value!r}")
    return score


def parse_locale(value: str) -> str:
    text = value.strip().replace("_", "-")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", text):
        raise CellError(f"not a locale tag like en or ja-JP: {value!r}")
    return text


def company_size_band(employees: int) -> str:
    """The bands used by the company-size segment view."""
    for upper, band in (
        (10, "1-10"),
        (50, "11-50"),
        (200, "51-200"),
        (1000, "201-1000"),
        (5000, "1001-5000"),
    ):
        if employees <= upper:
            return band
    return "5000+"
