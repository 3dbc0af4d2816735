"""An import's columns and cells are capped (FEEDBACK_IMPORT_MAX_COLUMNS and
FEEDBACK_IMPORT_MAX_CELL_CHARS): a file a million columns wide once took 43 s and 2 GB."""

from __future__ import annotations

import pytest

from feedback.imports.kinds import KINDS, parse_rows
from feedback.imports.parsing import FileError, read_csv, read_json_rows
from feedback.settings import get_settings


def wide_header(columns: int) -> str:
    return ",".join(["external_id", "name", *(f"trait_{n}" for n in range(columns - 2))])


def test_a_header_wider_than_the_limit_refuses_the_file_before_any_row() -> None:
    limit = get_settings().import_max_columns
    # the second line would be a malformed-CSV error if it were ever read
    text = wide_header(limit + 1) + '\na1,"never closed\n'
    with pytest.raises(FileError) as refused:
        read_csv(text)  # refused here, not while iterating the rows
    error = refused.value.error
    assert (error.line, error.column) == (1, "header")
    assert f"{limit + 1} columns" in error.reason and str(limit) in error.reason


def test_a_header_at_the_limit_is_read() -> None:
    header, rows = read_csv(wide_header(12) + "\na1,Acme\n", column_limit=12)
    assert len(header) == 12 and [r.values["name"] for r in rows] == ["Acme"]


def test_json_rows_with_too_many_fields_are_refused() -> None:
    one_row = [{f"f{n}": "x" for n in range(11)}]
    with pytest.raises(FileError) as refused:
        read_json_rows(one_row, column_limit=10)
    assert refused.value.error.column == "header"
    spread = [{f"f{n}": "x"} for n in range(11)]  # one new field per row adds up too
    with pytest.raises(FileError):
        read_json_rows(spread, column_limit=10)


def test_a_cell_longer_than_the_limit_is_an_error_of_its_row() -> None:
    text = (
        f"external_id,name,segment\na1,{'N' * 101},gold\na2,Globex,gold\na3,Initech,{'s' * 101}\n"
    )
    header, rows = read_csv(text)
    parsed = parse_rows(KINDS["accounts"], header, rows, cell_limit=100)
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "name"), (4, "segment")]
    assert all("longer than 100 characters" in e.reason for e in parsed.errors)
    assert [values["external_id"] for _, values in parsed.rows] == ["a2"]


def test_the_cell_limit_comes_from_the_settings() -> None:
    limit = get_settings().import_max_cell_chars
    header, rows = read_csv(f"external_id,name,notes\na1,Acme,{'N' * (limit + 1)}\n")
    parsed = parse_rows(KINDS["accounts"], header, rows)
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "notes")]


def test_an_id_with_a_control_character_is_an_error_of_its_row() -> None:
    header, rows = read_csv("external_id,name\na\x1bb,Acme\na2,Globex\n")
    parsed = parse_rows(KINDS["accounts"], header, rows)
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "external_id")]
